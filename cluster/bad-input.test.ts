// Integration: bad input through a real worker process never crashes it and is never dropped.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, describe, expect, it } from 'vitest';
import { deadLetterStream, partitionId, partitionSubject, resultsBucket } from '../common/names.ts';
import { readInputLog, readStream, startTestNats, waitFor, WorkerProcess, type TestNats } from '../test/cluster-harness.ts';
import { readKvResults } from './sinks/kv-sink.ts';
import { partitionOf } from '../common/partition.ts';
import { ensureJobTopology } from '../nats/topology.ts';

let nats: TestNats | undefined;
let worker: WorkerProcess | undefined;
afterAll(async () => {
  await worker?.kill();
  await nats?.close();
});

describe('a worker fed bad input', () => {
  it('dead-letters every bad event with its reason and original bytes, and still counts every good one', async () => {
    nats = await startTestNats({ maxPayload: 4 * 1024 * 1024 });
    await ensureJobTopology(nats.nc, await jetstreamManager(nats.nc), 'counting', { replicas: 1 });
    const js = jetstream(nats.nc);
    const t = Date.UTC(2026, 0, 1);
    const bad: [string, string][] = [
      ['{"k": "a", "v": ', 'malformed-json'],
      ['not json at all', 'malformed-json'],
      [JSON.stringify({ k: 'a', v: 'twelve', t }), 'schema-violation'],
      [JSON.stringify({ k: 'a', t }), 'schema-violation'],
      [JSON.stringify({ k: 'a', v: 1, t, extra: true }), 'schema-violation'],
      [JSON.stringify({ k: 'a', v: 1, t: 'soon' }), 'schema-violation'],
      [JSON.stringify({ k: 'a', v: 1, t: Date.UTC(2999, 0, 1) }), 'event-time-out-of-range'],
      [JSON.stringify({ k: 'a', v: 1, t: 0 }), 'event-time-out-of-range'],
      [JSON.stringify({ k: '', v: 1, t }), 'schema-violation'],
      [JSON.stringify({ k: 'a', v: 1, t, pad: 'x'.repeat(2 * 1024 * 1024) }), 'oversized'],
    ];
    // A key of each partition, as producers place keys.
    const keyOf = (p: number) => {
      let j = 0;
      while (partitionOf(`key-${p}-${j}`, 8) !== p) j++;
      return `key-${p}-${j}`;
    };
    const published = new Map<number, string>();
    let good = 0;
    for (let i = 0; i < 300; i++) {
      const p = i % 8;
      if (i % 30 === 0) {
        const [raw, reason] = bad[(i / 30) % bad.length]!;
        const ack = await js.publish(partitionSubject(partitionId('counting', p)), raw);
        published.set(ack.seq, reason);
      } else {
        await js.publish(partitionSubject(partitionId('counting', p)), JSON.stringify({ k: keyOf(p), v: i, t: t + i }));
        good++;
      }
    }
    // A good event, but published to a partition its key does not belong to.
    const misplaced = await js.publish(partitionSubject(partitionId('counting', 0)), JSON.stringify({ k: keyOf(1), v: 1, t }));
    published.set(misplaced.seq, 'wrong-partition');
    worker = new WorkerProcess('w-bad', ['--job', 'test/fixtures/counting-job.ts', '--partitions', 'all'], { SHARDFLOW_NATS_URL: nats.url });
    await worker.start();

    await waitFor(async () => (await readStream(nats!.nc, deadLetterStream('counting'))).length === published.size, 30_000, 'dead letters');
    const dlq = await readStream(nats.nc, deadLetterStream('counting'));
    for (const m of dlq) {
      const seq = Number(m.headers['Shardflow-Source-Seq']);
      expect(m.headers['Shardflow-Reason'], m.headers['Shardflow-Message']).toBe(published.get(seq));
      expect(m.headers['Shardflow-Message']!.length).toBeGreaterThan(10);
    }
    const oversized = dlq.find((m) => m.headers['Shardflow-Reason'] === 'oversized')!;
    expect(oversized.data.byteLength).toBeGreaterThan(2 * 1024 * 1024);

    const kv = await new Kvm(nats.nc).open(resultsBucket('counting'));
    await waitFor(async () => (await readKvResults(kv)).reduce((n, r) => n + (r.count as number), 0) === good, 30_000, 'every good event counted');
    expect(worker.running).toBe(true);
    expect(worker.output).toMatch(/"reason":"oversized".*"msg":"event dead-lettered"/);
    // The metric counts them by reason, on the worker's /metrics.
    const port = Number(/"metricsPort":(\d+)/.exec(worker.output)![1]);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain('shardflow_dead_letters_total{job="counting",reason="oversized"} 1');
    expect(text).toContain(`shardflow_dead_letters_total{job="counting",reason="malformed-json"} ${[...published.values()].filter((r) => r === 'malformed-json').length}`);
    expect(text).toMatch(/shardflow_events_processed_total\{job="counting",partition="0"\} \d+/);
    expect(text).toMatch(/shardflow_partitions_owned\{job="counting"\} 8/);
    expect(await worker.stop()).toBe(0);
  }, 90_000);
});

describe('the ingest subject', () => {
  it('takes plain JSON from any NATS client and routes it to partitions exactly once, across a kill -9', async () => {
    await worker?.kill();
    await nats?.close();
    nats = await startTestNats();
    const { ingestSubject, inputStream } = await import('../common/names.ts');
    // A plain NATS client: no shardflow library, no knowledge of partitions, no acknowledgements.
    await ensureJobTopology(nats.nc, await jetstreamManager(nats.nc), 'counting', { replicas: 1 });
    const t = Date.UTC(2026, 0, 1);
    const total = 6_000;
    for (let i = 0; i < total; i++) nats.nc.publish(ingestSubject('counting'), JSON.stringify({ k: `user-${i % 97}`, v: 1, t: t + i * 3 }));
    await nats.nc.flush();
    worker = new WorkerProcess('w-route', ['--job', 'test/fixtures/counting-job.ts', '--partitions', 'all'], { SHARDFLOW_NATS_URL: nats.url });
    await worker.start();
    // kill -9 while the routing is under way: once some of the events reached their partitions.
    const jsmRoute = await jetstreamManager(nats.nc);
    await waitFor(async () => (await jsmRoute.streams.info(inputStream('counting'))).state.messages > 0, 30_000, 'routing under way');
    await worker.kill();
    await worker.start();

    const kv = await new Kvm(nats.nc).open(resultsBucket('counting'));
    await waitFor(async () => (await readKvResults(kv)).reduce((n, r) => n + (r.count as number), 0) >= total, 60_000, 'every routed event counted').catch(async (err: Error) => {
      const jsm = await jetstreamManager(nats!.nc);
      const counted = (await readKvResults(kv)).reduce((n, r) => n + (r.count as number), 0);
      const ingest = (await jsm.streams.info('shardflow-counting-ingest')).state.messages;
      const input = (await jsm.streams.info(inputStream('counting'))).state.messages;
      throw new Error(`${err.message}: counted ${counted}, ingest ${ingest}, input ${input}\n${worker!.output.split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(-8).join('\n')}`);
    });
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await readKvResults(kv)).reduce((n, r) => n + (r.count as number), 0)).toBe(total);
    const stored = (await readInputLog(nats.nc, 'counting')).filter((m) => m.kind === 'routed').flatMap((m) => m.events);
    expect(stored.length).toBe(total);
    expect(new Set(stored.map((e) => new TextDecoder().decode(e))).size).toBe(total);
    expect(await worker.stop()).toBe(0);
  }, 90_000);
});
