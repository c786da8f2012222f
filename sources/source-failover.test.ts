// Integration: a source as a supervised, leader-assigned unit. A coordinator and two worker
// processes run the wikimedia-edits job, whose source reads a local server replaying recorded
// Wikimedia recentchange events. The worker running the source is killed (kill -9) in the middle of
// the stream: the other worker takes the source over from its checkpoint (Last-Event-ID), and the
// ingest stream holds every recorded change exactly once; the results equal the oracle.
import { Kvm } from '@nats-io/kv';
import { afterAll, describe, expect, it } from 'vitest';
import { ASSIGNMENT_KEY, COORDINATION_BUCKET, deadLetterStream, ingestStream } from '../common/names.ts';
import type { AssignmentRecord } from '../coordinator/protocol.ts';
import { statusOver } from '../coordinator/cluster-status.ts';
import { readStream, recentWarnings, ShardflowProcess, startTestNats, waitFor, WorkerProcess, type TestNats } from '../test/cluster-harness.ts';
import { recordedChanges, resumeIndex, sseFixture, startReplayServer, streamEvents, type ReplayServer } from '../test/replay-server.ts';
import { describeDiff, diffRows, isEmptyDiff, rowsById } from '../test/seed-oracles/oracle.ts';
import { wikimediaEditsOracle } from '../test/seed-oracles/wikimedia-edits.ts';
import { kvSink, type SinkUnderTest } from '../test/seed-run.ts';

const JOB = 'wikimedia-edits';
const SOURCE = `${JOB}/recentchange`;
const EVENTS = sseFixture('wikimedia-recentchange.sse');

let nats: TestNats | undefined;
let api: ReplayServer | undefined;
let sink: SinkUnderTest | undefined;
const processes: ShardflowProcess[] = [];

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await api?.close();
  await nats?.close();
  await sink?.cleanup();
});

describe('a source as a leader-assigned unit', () => {
  it('loses and doubles no change when the worker running it is killed (kill -9) mid-stream', async () => {
    nats = await startTestNats();
    // Two events every 40 ms: the stream lasts about 5 s, so the kill lands in the middle of it.
    api = await startReplayServer((req, res) => streamEvents(res, EVENTS, resumeIndex(EVENTS, req.headers['last-event-id']), { perWrite: 2, intervalMs: 40, end: false }));
    sink = kvSink(nats.nc, JOB);
    const env = { SHARDFLOW_NATS_URL: nats.url, SHARDFLOW_SOURCE_URLS: `${SOURCE}=${api.url}/v2/stream/recentchange`, ...sink.env };
    const coordinator = new ShardflowProcess('coordinator', 'c1', [], env);
    const workers = ['src-w1', 'src-w2'].map((id) => new WorkerProcess(id, ['--job', JOB], env));
    processes.push(coordinator, ...workers);
    await coordinator.start();
    await Promise.all(workers.map((w) => w.start()));
    const coordination = await new Kvm(nats.nc).open(COORDINATION_BUCKET);
    const ownerOfSource = async () => ((await coordination.get(ASSIGNMENT_KEY))?.json() as AssignmentRecord | undefined)?.sources?.[SOURCE] ?? null;
    const stored = async () => (await readStream(nats!.nc, ingestStream(JOB))).length;

    await waitFor(async () => (await ownerOfSource()) !== null && (await stored()) >= 60, 30_000, 'the source assigned and 60 changes stored');
    const owner = await ownerOfSource();
    const victim = workers.find((w) => w.id === owner)!;
    const storedAtKill = await stored();
    await victim.kill();
    const survivor = workers.find((w) => w !== victim)!;

    const expected = recordedChanges(EVENTS);
    expect(storedAtKill).toBeLessThan(expected.length - 40); // killed in the middle of the stream
    await waitFor(async () => (await ownerOfSource()) === survivor.id, 15_000, 'the source reassigned to the survivor');
    await waitFor(async () => (await stored()) >= expected.length, 30_000, 'every change stored').catch((err: Error) => {
      throw new Error(`${err.message}\n${recentWarnings(processes)}`);
    });

    // Every recorded change exactly once, as the oracle maps it.
    const ingest = (await readStream(nats.nc, ingestStream(JOB))).map((m) => JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>);
    const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.id).localeCompare(String(b.id));
    expect(ingest.sort(byId)).toEqual([...expected].sort(byId));
    // The survivor resumed after the victim's last checkpoint, not from the start of the stream.
    const resumed = api.requests.filter((r) => r.headers['last-event-id'] !== undefined);
    expect(resumed.length).toBeGreaterThan(0);
    expect(survivor.logs('source claimed').length).toBeGreaterThan(0);
    // `status` shows the source on the survivor, where it is, and how many events it stored in all.
    await waitFor(async () => (await statusOver(nats!.nc, { REPLICAS: 1, LEADER_LEASE_MS: 1_500, WORKER_TIMEOUT_MS: 1_000 })).sources[0]?.records === expected.length, 10_000, 'status to count every change');
    const status = await statusOver(nats.nc, { REPLICAS: 1, LEADER_LEASE_MS: 1_500, WORKER_TIMEOUT_MS: 1_000 });
    expect(status.sources).toEqual([{ job: JOB, source: 'recentchange', owner: survivor.id, records: expected.length, position: expect.stringContaining('after event [{"topic"'), last_error: null }]);
    // The malformed event was dead-lettered once, though the victim and the survivor both read it or not.
    const dlq = await readStream(nats.nc, deadLetterStream(JOB));
    expect(dlq.filter((m) => m.headers['Shardflow-Source-Name'] === 'recentchange').map((m) => m.headers['Shardflow-Reason'])).toEqual(['malformed-json']);

    // Results: the windows of the job, once each, equal to the oracle over the recorded changes (the
    // last ones close when the partitions have been idle for the job's 30 s).
    const oracle = wikimediaEditsOracle(expected.map((e) => JSON.stringify(e)), Date.now());
    let diff = diffRows(oracle.rows, new Map());
    await waitFor(
      async () => {
        const found = rowsById(await sink!.read());
        diff = diffRows(oracle.rows, found.rows);
        return isEmptyDiff(diff) && found.duplicates.length === 0;
      },
      90_000,
      'the results to equal the oracle',
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${describeDiff(diff)}\n${recentWarnings(processes)}`);
    });
    expect(oracle.deadLetters.size).toBe(0);
    expect(await survivor.stop()).toBe(0);
  }, 180_000);
});
