// Runs of the shipped seed jobs for integration tests: their generated events, the sink a run writes
// to (its worker settings, its reader, its cleanup), and the check that the sink holds exactly what
// the job's seed oracle computes from the input log, with every dirty event dead-lettered once with
// the oracle's reason and nothing late.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { expect } from 'vitest';
import { readFileResults, readKvResults, readPostgresResults, type ResultRow } from '../cluster/sinks/index.ts';
import { deadLetterStream, lateStream, resultsBucket } from '../common/names.ts';
import { seededRandom } from '../common/random.ts';
import type { Job } from '../jobs/define-job.ts';
import { eventId, readInputLog, readStream, recentWarnings, waitFor, type ShardflowProcess } from './cluster-harness.ts';
import { freshTableName, queryPostgres } from './postgres-harness.ts';
import { describeDiff, diffRows, isEmptyDiff, rowsById, SEED_ORACLES, type RowDiff } from './seed-oracles/index.ts';

/** `count` raw events of the job's own seeded generator from event time `start`, dirty ones included. */
export function seedEvents(job: Job<unknown>, seed: number, count: number, start: number): string[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => job.generate!(random, i, start));
}

/** Where a run's workers write their results, and how the test reads them back. */
export interface SinkUnderTest {
  /** Settings of the workers: their data folder, and the sink override if any. */
  env: Record<string, string>;
  read(): Promise<ResultRow[]>;
  cleanup(): Promise<void>;
}

function dataDir(job: string): string {
  return mkdtempSync(join(tmpdir(), `shardflow-${job}-`));
}

/** The job's KV bucket on the test's nats-server. */
export function kvSink(nc: NatsConnection, job: string): SinkUnderTest {
  const dir = dataDir(job);
  return {
    env: { SHARDFLOW_DATA_DIR: dir },
    read: async () => readKvResults(await new Kvm(nc).open(resultsBucket(job))),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** JSON files in <data dir>/results, the files sink's default folder. */
export function filesSink(job: string): SinkUnderTest {
  const dir = dataDir(job);
  return {
    env: { SHARDFLOW_DATA_DIR: dir },
    read: () => readFileResults(join(dir, 'results'), job),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A table of this run's own in the PostgreSQL at `url` (SHARDFLOW_POSTGRES_URL), dropped by cleanup. */
export function postgresSink(url: string, job: string): SinkUnderTest & { table: string } {
  const dir = dataDir(job);
  const table = freshTableName(`sf_${job.replace(/-/g, '_')}`);
  return {
    table,
    env: { SHARDFLOW_DATA_DIR: dir, SHARDFLOW_POSTGRES_URL: url, SHARDFLOW_SINK: JSON.stringify({ type: 'postgres', table }) },
    read: () => readPostgresResults(url, table, job),
    cleanup: async () => {
      rmSync(dir, { recursive: true, force: true });
      await queryPostgres(url, `DROP TABLE IF EXISTS ${table}`);
    },
  };
}

/**
 * Waits until the sink equals the oracle of `job` computed from its input log as JetStream stores it
 * (watermark markers left out), with no window twice; then checks the dead-letter stream: exactly the
 * dirty events, each once, with the oracle's reason, a message and the original bytes; and that
 * nothing went to the late side output.
 */
export async function expectSeedResults(nc: NatsConnection, job: string, sink: SinkUnderTest, processes: readonly ShardflowProcess[], timeoutMs: number): Promise<{ rows: number; deadLetters: number }> {
  const oracle = SEED_ORACLES[job];
  if (!oracle) throw new Error(`no seed oracle for job ${job}`);
  // Every event of the log in stored order, with its position (a producer's batch holds several).
  const log = (await readInputLog(nc, job)).filter((m) => m.kind !== 'marker').flatMap((m) => m.events.map((data, index) => ({ id: eventId(m.seq, index), data })));
  const raws = log.map((e) => new TextDecoder().decode(e.data));
  // The generators write either past times or absurd future ones, so the exact ingest time is moot.
  const expected = oracle(raws, Date.now());

  let diff: RowDiff | undefined;
  let duplicates: string[] = [];
  await waitFor(
    async () => {
      const found = rowsById(await sink.read());
      duplicates = found.duplicates;
      diff = diffRows(expected.rows, found.rows);
      return isEmptyDiff(diff) && duplicates.length === 0;
    },
    timeoutMs,
    `the ${job} sink to equal the oracle`,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${diff ? describeDiff(diff) : 'nothing read'}; duplicated windows ${duplicates.length}\n${recentWarnings(processes)}`);
  });

  const positionOf = new Map(log.map((e, position) => [e.id, position]));
  let dlq = await readStream(nc, deadLetterStream(job));
  await waitFor(async () => (dlq = await readStream(nc, deadLetterStream(job))).length >= expected.deadLetters.size, 20_000, `${expected.deadLetters.size} dead letters of ${job}`).catch((err: Error) => {
    throw new Error(`${err.message}: found ${dlq.length}`);
  });
  const reasons = new Map<number, string>();
  for (const m of dlq) {
    const position = positionOf.get(eventId(Number(m.headers['Shardflow-Source-Seq']), Number(m.headers['Shardflow-Source-Index'])));
    expect(position, `dead letter ${m.subject} points at no event of the log`).toBeDefined();
    expect(reasons.has(position!), `event ${position} dead-lettered twice`).toBe(false);
    reasons.set(position!, m.headers['Shardflow-Reason']!);
    expect(new TextDecoder().decode(m.data)).toBe(raws[position!]);
    expect(m.headers['Shardflow-Message']!.length).toBeGreaterThan(5);
  }
  // Listed as the event, the oracle's reason and the stream's, so a failure shows which and why.
  const disagreements = [...new Set([...reasons.keys(), ...expected.deadLetters.keys()])]
    .filter((position) => reasons.get(position) !== expected.deadLetters.get(position))
    .map((position) => ({ event: raws[position], expected: expected.deadLetters.get(position) ?? 'a result', found: reasons.get(position) ?? 'not dead-lettered' }));
  expect(disagreements).toEqual([]);
  expect(reasons.size).toBe(expected.deadLetters.size);
  expect(await readStream(nc, lateStream(job))).toEqual([]);
  return { rows: expected.rows.size, deadLetters: expected.deadLetters.size };
}
