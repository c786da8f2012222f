// Integration, real nats-server: the storage section of the cluster's status lists every stream and
// bucket of a job with its size and the limits its topology gave it, and the leading coordinator
// reports the same figures as metrics, which it withdraws when it stops leading.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../common/config.ts';
import { createLogger } from '../common/logger.ts';
import { metrics } from '../common/metrics.ts';
import { CHECKPOINTS_BUCKET, deadLetterStream, ingestStream, ingestSubject, inputStream, lateStream, partitionId, partitionSubject, resultsBucket } from '../common/names.ts';
import { DEFAULT_RETENTION } from '../jobs/define-job.ts';
import { ensureJobTopology } from '../nats/topology.ts';
import { startTestNats, waitFor, type TestNats } from '../test/cluster-harness.ts';
import { readStatus, storageOver, type StreamStorage } from './cluster-status.ts';
import { Coordinator } from './coordinator.ts';

const JOB = 'storage-demo';
let nats: TestNats;

beforeAll(async () => {
  nats = await startTestNats();
  const jsm = await jetstreamManager(nats.nc);
  await ensureJobTopology(nats.nc, jsm, JOB, { replicas: 1 });
  const js = jetstream(nats.nc);
  for (let i = 0; i < 5; i++) await js.publish(partitionSubject(partitionId(JOB, i % 2)), JSON.stringify({ station_id: 'ST-01', i }));
  for (let i = 0; i < 3; i++) await js.publish(ingestSubject(JOB), JSON.stringify({ station_id: 'ST-02', i }));
  const results = await new Kvm(nats.nc).open(resultsBucket(JOB));
  await results.put('ST-01.0', JSON.stringify({ count: 5 }));
  // Not shardflow's: left out of the list, but its max_bytes is held against the store all the same.
  await jsm.streams.add({ name: 'someone-else', subjects: ['elsewhere.>'], max_bytes: 32 * 1024 * 1024 });
});

afterAll(async () => {
  await nats?.close();
});

function byName(streams: StreamStorage[]): Map<string, StreamStorage> {
  return new Map(streams.map((s) => [s.stream, s]));
}

describe('storageOver', () => {
  it("lists each stream and bucket of the job with its size, messages and the limits of the job's retention", async () => {
    const storage = await storageOver(nats.nc);
    const streams = byName(storage.streams);
    expect([...streams.keys()]).toEqual(
      [deadLetterStream(JOB), ingestStream(JOB), inputStream(JOB), lateStream(JOB), `KV_${CHECKPOINTS_BUCKET}`, `KV_${resultsBucket(JOB)}`].sort(),
    );
    const limits = [
      [inputStream(JOB), DEFAULT_RETENTION.input],
      [ingestStream(JOB), DEFAULT_RETENTION.ingest],
      [deadLetterStream(JOB), DEFAULT_RETENTION.deadLetters],
      [lateStream(JOB), DEFAULT_RETENTION.late],
    ] as const;
    for (const [name, retention] of limits) {
      expect(streams.get(name), name).toMatchObject({ max_bytes: retention.maxBytes, max_age_ms: retention.maxAge, max_msgs: -1 });
    }
    expect(streams.get(inputStream(JOB))).toMatchObject({ messages: 5, bytes: expect.any(Number) });
    expect(streams.get(ingestStream(JOB))).toMatchObject({ messages: 3 });
    expect(streams.get(`KV_${resultsBucket(JOB)}`)).toMatchObject({ messages: 1, max_bytes: -1, max_age_ms: 0 });
    for (const name of [inputStream(JOB), ingestStream(JOB), `KV_${resultsBucket(JOB)}`]) expect(streams.get(name)!.bytes, name).toBeGreaterThan(0);
    for (const name of [deadLetterStream(JOB), lateStream(JOB), `KV_${CHECKPOINTS_BUCKET}`]) expect(streams.get(name), name).toMatchObject({ bytes: 0, messages: 0 });
  });

  it("gives the account's usage, its limit (none on the test server) and what the streams' limits reserve", async () => {
    const { streams, account } = await storageOver(nats.nc);
    expect(account.storage_bytes).toBe(streams.reduce((sum, s) => sum + s.bytes, 0));
    expect(account.max_storage_bytes).toBe(-1);
    const jobReserves = Object.values(DEFAULT_RETENTION).reduce((sum, r) => sum + r.maxBytes, 0);
    expect(account.reserved_bytes).toBe(jobReserves + 32 * 1024 * 1024);
  });

  it('is part of the status that `shardflow status --json` prints, after the fields scripts already read', async () => {
    const status = await readStatus(nats.url, loadConfig({}));
    expect(Object.keys(status)).toEqual(['leader', 'coordinators', 'workers', 'partitions', 'sources', 'jobs', 'assignment', 'storage']);
    // readStatus opened the coordination bucket: it is listed too.
    expect(status.storage!.streams.map((s) => s.stream)).toContain('KV_shardflow-coordination');
  });
});

describe('the leading coordinator', () => {
  it('reports the size, limit and messages of every stream as gauges, and withdraws them when it stops', async () => {
    const coordinator = await Coordinator.start({ id: 'c-storage', natsUrl: nats.url, replicas: 1, workerTimeoutMs: 1_000, leaderLeaseMs: 1_500, metricsPort: 0, log: createLogger('coordinator', 'silent') });
    try {
      const gauge = async (g: typeof metrics.streamBytes, stream: string) => (await g.get()).values.find((v) => v.labels.stream === stream)?.value;
      await waitFor(async () => coordinator.role === 'leader' && (await gauge(metrics.streamMessages, inputStream(JOB))) === 5, 10_000, 'the leader to report the input stream');
      expect(await gauge(metrics.streamLimitBytes, inputStream(JOB))).toBe(DEFAULT_RETENTION.input.maxBytes);
      expect(await gauge(metrics.streamBytes, inputStream(JOB))).toBe(byName((await storageOver(nats.nc)).streams).get(inputStream(JOB))!.bytes);
      expect(await gauge(metrics.streamLimitBytes, `KV_${CHECKPOINTS_BUCKET}`)).toBe(-1);
    } finally {
      await coordinator.stop();
    }
    for (const g of [metrics.streamBytes, metrics.streamLimitBytes, metrics.streamMessages]) expect((await g.get()).values).toEqual([]);
  });
});
