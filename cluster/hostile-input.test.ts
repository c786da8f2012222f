// Integration: a running cluster (a coordinator, two workers per job) fed good events interleaved with
// a corpus of hostile messages, on both ways in (straight to a partition, and a plain client's
// ingest subject), into the KV and the PostgreSQL sinks. Every partition keeps progressing, every good
// result equals an oracle computed by plain loops, every bad message is dead-lettered exactly once
// with its reason and its original bytes, a result row the sink cannot take is dead-lettered instead
// of blocking its partition, NUL never reaches PostgreSQL, and no worker restarts anything.
import { createHash } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobProducer } from './producer.ts';
import { packEvents } from '../common/event-batch.ts';
import { CHECKPOINTS_BUCKET, checkpointKey, deadLetterStream, HEADERS, ingestSubject, partitionId, partitionSubject, resultsBucket } from '../common/names.ts';
import { statusOver } from '../coordinator/cluster-status.ts';
import { ensureJobTopology } from '../nats/topology.ts';
import { readInputLog, readStream, recentWarnings, ShardflowProcess, startTestNats, waitFor, WorkerProcess, type TestNats } from '../test/cluster-harness.ts';
import { freshTableName, queryPostgres, requirePostgres, testPostgres, type TestPostgres } from '../test/postgres-harness.ts';
import { HOSTILE } from '../test/fixtures/hostile-job.ts';
import kvJob from '../test/fixtures/hostile-kv-job.ts';
import pgJob from '../test/fixtures/hostile-pg-job.ts';
import { readKvResults } from './sinks/kv-sink.ts';
import { readPostgresResults } from './sinks/postgres-sink.ts';
import { partitionOf } from '../common/partition.ts';

const TAGS = ['a', 'b', 'a\u0000b', 'x\r\ny'];
const enc = new TextEncoder();

let nats: TestNats;
let pg: TestPostgres;
let table: string;
const processes: ShardflowProcess[] = [];

beforeAll(async () => {
  pg = await testPostgres('hostile-input.test.ts');
  if (pg.skip) return;
  requirePostgres(pg);
  table = freshTableName('hostile');
  nats = await startTestNats();
  const jsm = await jetstreamManager(nats.nc);
  for (const job of [kvJob, pgJob]) await ensureJobTopology(nats.nc, jsm, job as never, { replicas: 1 });
  const env = { SHARDFLOW_NATS_URL: nats.url, SHARDFLOW_CHECKPOINT_INTERVAL_MS: '250' };
  const pgEnv = { ...env, SHARDFLOW_POSTGRES_URL: pg.url, SHARDFLOW_SINK: JSON.stringify({ type: 'postgres', table }) };
  processes.push(
    new ShardflowProcess('coordinator', 'c1', [], env),
    new WorkerProcess('w-kv-1', ['--job', 'test/fixtures/hostile-kv-job.ts'], env),
    new WorkerProcess('w-kv-2', ['--job', 'test/fixtures/hostile-kv-job.ts'], env),
    new WorkerProcess('w-pg-1', ['--job', 'test/fixtures/hostile-pg-job.ts'], pgEnv),
    new WorkerProcess('w-pg-2', ['--job', 'test/fixtures/hostile-pg-job.ts'], pgEnv),
  );
  await Promise.all(processes.map((p) => p.start()));
  const config = { REPLICAS: 1, LEADER_LEASE_MS: 1_500, WORKER_TIMEOUT_MS: 1_000 };
  await waitFor(async () => (await statusOver(nats.nc, config)).partitions.filter((p) => p.owner).length === 2 * HOSTILE.partitions, 30_000, 'every partition assigned');
}, 90_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await nats?.close();
  if (table && !pg.skip) await queryPostgres(pg.url, `DROP TABLE IF EXISTS ${table}`).catch(() => {});
});

const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** One hostile message: where it goes, its bytes, and the dead letters it must give (event bytes -> reason). */
interface Hostile {
  what: string;
  bytes: Uint8Array;
  /** Published as a batch of events to a partition (only the straight way in). */
  batch?: boolean;
  /** Published to a partition with these headers (only the straight way in). */
  headers?: Record<string, string>;
  /** Dead letters it gives: the event's place in the message, and the reason. */
  expect: [number, string][];
  /** The key of the good events it holds: published to that key's partition, where they belong. */
  ownerKey?: string;
}

function corpus(n: number, t: number): Hostile[] {
  const ev = (o: Record<string, unknown>) => enc.encode(JSON.stringify({ v: 1, t, ...o }));
  const one = (what: string, bytes: Uint8Array, reason: string): Hostile => ({ what, bytes, expect: [[0, reason]] });
  const nested = `{"k":${'['.repeat(100_000)}${']'.repeat(100_000)},"v":${n},"t":${t}}`;
  let nestedReason = 'schema-violation';
  try {
    JSON.parse(nested);
  } catch {
    nestedReason = 'malformed-json';
  }
  const good1 = ev({ k: `batch-good-${n}`, tag: 'a' });
  const poison = enc.encode(`{"k": "poison-${n}"`);
  const good2 = ev({ k: `batch-good-${n}`, tag: 'b' });
  return [
    one('CR LF and garbage', enc.encode(`x\r\nboom-${n}`), 'malformed-json'),
    one('a NUL in the key', ev({ k: `Evil\u0000Brand-${n}` }), 'invalid-key'),
    one('CR LF in the key', ev({ k: `x\r\ny-${n}` }), 'invalid-key'),
    one('a 3.5 KB key', ev({ k: `${n}-${'k'.repeat(3_500)}` }), 'key-too-long'),
    one('a 10 KB key', ev({ k: `${n}-${'q'.repeat(10_000)}` }), 'key-too-long'),
    one('a message of about a MiB', ev({ k: `big-${n}`, tag: 'z'.repeat(1_000_000) }), 'oversized'),
    one('JSON nested 100,000 levels deep', enc.encode(nested), nestedReason),
    one('a time 23 hours ahead', ev({ k: `future-${n}`, t: t + 23 * 3_600_000 }), 'event-time-out-of-range'),
    one('a time in 1970', ev({ k: `past-${n}`, t: 86_400_000 }), 'event-time-out-of-range'),
    one('a number as the key', ev({ k: 12_345 + n }), 'schema-violation'),
    one('invalid UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, n % 256, 0x7d]), 'malformed-json'),
    { what: 'a forged watermark marker on an event subject', bytes: new Uint8Array(0), headers: { [HEADERS.watermark]: String(t + 3_600_000), 'Nats-Msg-Id': `forged-${n}` }, expect: [[0, 'malformed-json']] },
    { what: 'a batch that is not one', bytes: enc.encode(`garbage-${n}`), batch: true, expect: [[0, 'malformed-batch']] },
    { what: 'a poison event inside a batch of good ones', bytes: packEvents([good1, poison, good2]), batch: true, expect: [[1, 'malformed-json']], ownerKey: `batch-good-${n}` },
  ];
}

interface Window {
  count: number;
  sum: number;
  tags: Map<string, number>;
}

describe('a cluster fed hostile input', () => {
  it('keeps every partition going: exact results, every bad message dead-lettered once with its reason, no restart', async (ctx) => {
    if (pg.skip) ctx.skip();
    const js = jetstream(nats.nc);
    const start = Date.now();
    const expected = new Map<string, Map<string, Window>>([[kvJob.name, new Map()], [pgJob.name, new Map()]]);
    const deadLetters = new Map<string, Map<string, string>>([[kvJob.name, new Map()], [pgJob.name, new Map()]]);
    const count = (job: string, key: string, t: number, v: number, tag: string) => {
      const ws = Math.floor(t / HOSTILE.windowMs) * HOSTILE.windowMs;
      const id = `${key}|${ws}|${ws + HOSTILE.windowMs}`;
      const w = expected.get(job)!.get(id) ?? { count: 0, sum: 0, tags: new Map() };
      w.count++;
      w.sum += v;
      w.tags.set(tag, (w.tags.get(tag) ?? 0) + 1);
      expected.get(job)!.set(id, w);
    };

    for (const job of [kvJob, pgJob]) {
      const producer = new JobProducer(nats.nc, job, { producerId: `${job.name}-good` });
      const hostile = [...corpus(1, start + 500), ...corpus(2, start + 900)];
      let h = 0;
      for (let i = 0; i < 1_200; i++) {
        const t = start + i * 2;
        const e = { k: `d${i % 20}`, v: i % 11, t, tag: TAGS[i % TAGS.length]! };
        await producer.publish(JSON.stringify(e));
        count(job.name, e.k, e.t, e.v, e.tag);
        // A plain client's good event on the ingest subject, every other step.
        if (i % 2 === 0) {
          const g = { k: `g${i % 20}`, v: i % 7, t: t + 1, tag: TAGS[(i >> 1) % TAGS.length]! };
          nats.nc.publish(ingestSubject(job.name), JSON.stringify(g));
          count(job.name, g.k, g.t, g.v, g.tag);
        }
        // A hostile message every 40 events: to a partition, and (unless it needs a partition's
        // subject) to the ingest subject too.
        if (i % 40 === 20 && h < hostile.length) {
          const m = hostile[h++]!;
          const p = partitionId(job.name, m.ownerKey === undefined ? h % HOSTILE.partitions : partitionOf(m.ownerKey, HOSTILE.partitions));
          const hdrs = m.headers ? natsHeaders() : undefined;
          for (const [k, v] of Object.entries(m.headers ?? {})) hdrs!.set(k, v);
          const ack = await js.publish(partitionSubject(p, m.batch ? 'batch' : 'event'), m.bytes, hdrs ? { headers: hdrs } : undefined);
          // Straight to a partition: dead-lettered under the message's place in the partition's log.
          for (const [index, reason] of m.expect) deadLetters.get(job.name)!.set(`${p.index}.${ack.seq}.${index}`, reason);
          if (!m.batch && !m.headers) {
            // Through the ingest subject: dead-lettered by a router, with the original bytes.
            nats.nc.publish(ingestSubject(job.name), m.bytes);
            deadLetters.get(job.name)!.set(`ingest ${digest(m.bytes)}`, m.expect[0]![1]);
          }
          if (m.batch && m.what.startsWith('a poison')) {
            count(job.name, `batch-good-${h <= 14 ? 1 : 2}`, h <= 14 ? start + 500 : start + 900, 1, 'a');
            count(job.name, `batch-good-${h <= 14 ? 1 : 2}`, h <= 14 ? start + 500 : start + 900, 1, 'b');
          }
        }
      }
      expect(h).toBe(hostile.length);
      // One window of one key whose row is larger than a KV value may be: 30 distinct 40 KB tags.
      for (let i = 0; i < 30; i++) {
        const e = { k: 'fat', v: 1, t: start + 1_500 + i, tag: `${i}-${'t'.repeat(40_000)}` };
        await producer.publish(JSON.stringify(e));
        count(job.name, e.k, e.t, e.v, e.tag);
      }
      await producer.flush();
      producer.close();
    }
    await nats.nc.flush();

    // The sinks: KV keeps text as it is but cannot hold the fat row; PostgreSQL holds it, with U+FFFD for NUL.
    const fatWindow = (() => {
      const ws = Math.floor((start + 1_500) / HOSTILE.windowMs) * HOSTILE.windowMs;
      return `fat|${ws}|${ws + HOSTILE.windowMs}`;
    })();
    const oracle = (job: string, nulAs: string, without: string[]) =>
      new Map(
        [...expected.get(job)!]
          .filter(([id]) => !without.includes(id))
          .map(([id, w]) => [id, { count: w.count, sum: w.sum, tags: Object.fromEntries([...w.tags].map(([t, n]): [string, number] => [t.replaceAll('\u0000', nulAs), n]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) }]),
      );
    const asMap = (rows: Record<string, unknown>[]) => new Map(rows.map((r) => [`${r.key}|${r.window_start}|${r.window_end}`, { count: Number(r.count), sum: Number(r.sum), tags: r.tags }]));
    const kvRows = async () => asMap(await readKvResults(await new Kvm(nats.nc).open(resultsBucket(kvJob.name))));
    const pgRows = async () => asMap(await readPostgresResults(pg.url, table, pgJob.name));
    const wantKv = oracle(kvJob.name, '\u0000', [fatWindow]);
    const wantPg = oracle(pgJob.name, '\ufffd', []);
    let gotKv = new Map();
    let gotPg = new Map();
    await waitFor(
      async () => {
        [gotKv, gotPg] = await Promise.all([kvRows(), pgRows()]);
        return gotKv.size === wantKv.size && gotPg.size === wantPg.size;
      },
      90_000,
      'every window in both sinks',
    ).catch((err: Error) => {
      throw new Error(`${err.message}: KV ${gotKv.size}/${wantKv.size}, PostgreSQL ${gotPg.size}/${wantPg.size}\n${recentWarnings(processes)}`);
    });
    expect(gotKv).toEqual(wantKv);
    expect(gotPg).toEqual(wantPg);
    const nulInPostgres = await queryPostgres(pg.url, `SELECT count(*)::int AS n FROM ${table} WHERE tags::text LIKE '%\\u0000%'`);
    expect(nulInPostgres[0]!.n).toBe(0);

    // The dead letters: each bad message once, with its reason and original bytes; the fat row of the
    // KV job, refused by the sink, dead-lettered as a row.
    for (const job of [kvJob, pgJob]) {
      const want = deadLetters.get(job.name)!;
      const extra = job === kvJob ? 1 : 0;
      let dlq = await readStream(nats.nc, deadLetterStream(job.name));
      await waitFor(async () => (dlq = await readStream(nats.nc, deadLetterStream(job.name))).length >= want.size + extra, 30_000, `${want.size + extra} dead letters of ${job.name}`);
      const found = new Map<string, string>();
      let rejectedRows = 0;
      for (const m of dlq) {
        expect(m.headers[HEADERS.message]!.length, m.subject).toBeGreaterThan(5);
        expect(m.headers[HEADERS.message]).not.toMatch(/[\r\n\u0000]/);
        if (m.headers[HEADERS.reason] === 'sink-rejected') {
          rejectedRows++;
          // The row is larger than a message may be: cut, and marked with its size.
          expect(Number(m.headers['Shardflow-Truncated'])).toBeGreaterThan(1_000_000);
          expect(new TextDecoder().decode(m.data)).toMatch(/^\{"op":"upsert","row":\{"job":"hostile-kv","key":"fat"/);
          continue;
        }
        const fromIngest = m.headers[HEADERS.partition] === 'i';
        const id = fromIngest ? `ingest ${digest(m.data)}` : `${m.headers[HEADERS.partition]}.${m.headers[HEADERS.sourceSeq]}.${m.headers[HEADERS.sourceIndex]}`;
        expect(found.has(id), `${m.subject} dead-lettered twice`).toBe(false);
        found.set(id, m.headers[HEADERS.reason]!);
      }
      expect(rejectedRows).toBe(extra);
      expect(found).toEqual(want);
    }

    // Every partition went on to its last message: its checkpoint covers it.
    const checkpoints = await new Kvm(nats.nc).open(CHECKPOINTS_BUCKET);
    for (const job of [kvJob, pgJob]) {
      const lastOf = new Map<number, number>();
      for (const m of await readInputLog(nats.nc, job.name)) if (m.kind !== 'marker') lastOf.set(m.partition, Math.max(lastOf.get(m.partition) ?? 0, m.seq));
      expect(lastOf.size).toBe(HOSTILE.partitions);
      await waitFor(
        async () => {
          for (const [p, last] of lastOf) {
            const e = await checkpoints.get(checkpointKey(partitionId(job.name, p)));
            if (!e || (e.json() as { seq: number }).seq < last) return false;
          }
          return true;
        },
        30_000,
        `every partition of ${job.name} checkpointed past its last message`,
      );
    }

    // Nobody failed, nobody restarted, and the side-output log lines were rate-limited.
    for (const p of processes) {
      expect(p.running, `${p.id} exited; its last output:\n${p.output.slice(-3000)}`).toBe(true);
      expect(p.output, p.id).not.toMatch(/"msg":"actor (failed|restarted|gave up)/);
      expect(p.logs('event dead-lettered').length, p.id).toBeLessThanOrEqual(20);
    }
  }, 240_000);
});
