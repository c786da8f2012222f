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
import { fixtureJson, json, recordedChanges, resumeIndex, sseFixture, startReplayServer, streamEvents, type ReplayServer } from '../test/replay-server.ts';
import { describeDiff, diffRows, isEmptyDiff, rowsById } from '../test/seed-oracles/oracle.ts';
import { wikimediaEditsOracle } from '../test/seed-oracles/wikimedia-edits.ts';
import { cryptoPricesOracle } from '../test/seed-oracles/crypto-prices.ts';
import { kvSink, type SinkUnderTest } from '../test/seed-run.ts';

const JOB = 'wikimedia-edits';
const SOURCE = `${JOB}/recentchange`;
const EVENTS = sseFixture('wikimedia-recentchange.sse');

let nats: TestNats | undefined;
let api: ReplayServer | undefined;
let sink: SinkUnderTest | undefined;
const processes: ShardflowProcess[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await api?.close();
  await nats?.close();
  await sink?.cleanup();
  for (const c of cleanups) await c().catch(() => {});
});

// Both tests mostly wait (for a stream to be read, for windows to close): they run at once.
describe.concurrent('a source as a leader-assigned unit', () => {
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

  it('publishes every product of a paginated poll once when the worker polling it is killed (kill -9) between pages', async () => {
    // 5 pages of 100 products (the job's page size and page limit), in the recorded OpenFood shape,
    // each page answered after 300 ms: the poll lasts about 1.5 s per worker.
    const recorded = fixtureJson<{ products: Record<string, unknown>[] }[]>('openfood-search.json').flatMap((p) => p.products.filter((x) => typeof x === 'object'));
    const products = Array.from({ length: 500 }, (_, i) => ({ ...recorded[i % recorded.length]!, code: String(3_000_000_000_000 + i), product_name: `${String(recorded[i % recorded.length]!.product_name)} #${i}` }));
    const own = await startTestNats();
    cleanups.push(() => own.close());
    const search = await startReplayServer(async (req, res) => {
      const page = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('page'));
      await new Promise((r) => setTimeout(r, 300));
      json(res, { count: products.length, page, page_size: 100, skip: (page - 1) * 100, products: products.slice((page - 1) * 100, page * 100) });
    });
    cleanups.push(() => search.close());
    const job = 'openfood-nutriscore';
    const env = { SHARDFLOW_NATS_URL: own.url, SHARDFLOW_SOURCE_URLS: `${job}/openfood-search=${search.url}/cgi/search.pl?action=process&json=1`, SHARDFLOW_SINK: JSON.stringify({ type: 'kv' }) };
    const coordinator = new ShardflowProcess('coordinator', 'c-http', [], env);
    const workers = ['http-w1', 'http-w2'].map((id) => new WorkerProcess(id, ['--job', job], env));
    processes.push(coordinator, ...workers);
    await coordinator.start();
    await Promise.all(workers.map((w) => w.start()));
    const stored = async () => (await readStream(own.nc, ingestStream(job))).length;
    await waitFor(async () => (await stored()) >= 200, 30_000, 'two pages stored');
    const coordination = await new Kvm(own.nc).open(COORDINATION_BUCKET);
    const owner = ((await coordination.get(ASSIGNMENT_KEY))?.json() as AssignmentRecord).sources![`${job}/openfood-search`];
    const victim = workers.find((w) => w.id === owner)!;
    await victim.kill();
    // From here on, requests are the survivor's.
    const requestsBeforeKill = search.requests.length;
    const storedAtKill = await stored();
    expect(storedAtKill).toBeLessThan(500);
    await waitFor(async () => (await stored()) >= 500, 30_000, 'every product stored').catch((err: Error) => {
      throw new Error(`${err.message}\n${recentWarnings(processes)}`);
    });

    const ingest = (await readStream(own.nc, ingestStream(job))).map((m) => JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>);
    expect(ingest.map((p) => p.code).sort()).toEqual(products.map((p) => p.code).sort());
    // The survivor went on from the victim's checkpoint, not from the first page.
    const resumedAt = Number(new URL(search.requests[requestsBeforeKill]!.url, 'http://x').searchParams.get('page'));
    expect(resumedAt).toBeGreaterThan(1);
    expect(search.requests.slice(requestsBeforeKill).map((r) => Number(new URL(r.url, 'http://x').searchParams.get('page')))).toEqual(Array.from({ length: 6 - resumedAt }, (_, i) => resumedAt + i));
  }, 120_000);

  it('turns CoinCap snapshots polled by a worker into the bars the oracle computes from the recorded snapshots', async () => {
    const snapshots = fixtureJson<{ data: unknown[]; timestamp: number }[]>('coincap-assets.json');
    const own = await startTestNats();
    cleanups.push(() => own.close());
    // Each snapshot once, then an unchanged API (304) for ever.
    const coincap = await startReplayServer((req, res, n) => {
      if (n < snapshots.length && req.headers['if-none-match'] !== `"s${n}"`) json(res, snapshots[n], { etag: `"s${n}"` });
      else res.writeHead(304).end();
    });
    cleanups.push(() => coincap.close());
    const job = 'crypto-prices';
    const results = kvSink(own.nc, job);
    cleanups.push(() => results.cleanup());
    const env = { SHARDFLOW_NATS_URL: own.url, SHARDFLOW_SOURCE_URLS: `${job}/coincap=${coincap.url}/v2/assets`, SHARDFLOW_SINK: JSON.stringify({ type: 'kv' }), ...results.env };
    const coordinator = new ShardflowProcess('coordinator', 'c-coincap', [], env);
    const worker = new WorkerProcess('coincap-w1', ['--job', job], env);
    processes.push(coordinator, worker);
    await coordinator.start();
    await worker.start();

    // The oracle, from the recorded snapshots: an asset at the snapshot's time is a tick.
    const ticks = snapshots.flatMap((s) => s.data.filter((a): a is Record<string, unknown> => typeof a === 'object' && a !== null).map((a) => JSON.stringify({ asset: a.id, price_usd: a.priceUsd, volume: 0, ts: s.timestamp })));
    const oracle = cryptoPricesOracle(ticks, Date.now());
    expect(oracle.deadLetters.size).toBe(1); // the recorded asset without a price
    let diff = diffRows(oracle.rows, new Map());
    await waitFor(
      async () => {
        const found = rowsById(await results.read());
        diff = diffRows(oracle.rows, found.rows);
        return isEmptyDiff(diff) && found.duplicates.length === 0;
      },
      90_000,
      'the bars to equal the oracle',
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${describeDiff(diff)}\n${recentWarnings(processes)}`);
    });
    const reasons = (await readStream(own.nc, deadLetterStream(job))).map((m) => m.headers['Shardflow-Reason']).sort();
    expect(reasons).toEqual(['not-an-object', 'schema-violation']);
  }, 120_000);
});
