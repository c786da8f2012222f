// The PostgreSQL sink: pure helpers first, then integration against a real server (127.0.0.1:5432, or
// SHARDFLOW_TEST_POSTGRES_URL). An unreachable server fails the suite in CI and skips it elsewhere.
// Every test writes to a table of its own and drops it afterwards.
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isShardflowError } from '../../common/errors.ts';
import { freshTableName, requirePostgres, testPostgres } from '../../test/postgres-harness.ts';
import { PostgresSink, checkIdentifier, collapseWrites, isTransientPostgresError, readPostgresResults } from './postgres-sink.ts';
import type { ResultRow, SinkWrite } from './sink.ts';

const pg = await testPostgres('postgres-sink.test');
const url = pg.url;

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0, 123);
const MINUTE = 60_000;

function row(key: string, revision: number, aggregates: Record<string, unknown> = {}, start = T0): ResultRow {
  return { job: 'j', key, window_start: start, window_end: start + MINUTE, revision, ...aggregates };
}
const upsert = (r: ResultRow): SinkWrite => ({ op: 'upsert', row: r });
const retract = (key: string, revision: number, start = T0): SinkWrite => ({ op: 'delete', job: 'j', key, window_start: start, window_end: start + MINUTE, revision });

describe('collapsing the writes of a batch', () => {
  it('keeps the last write per window, in window order', () => {
    const out = collapseWrites([upsert(row('b', 0, { n: 1 })), upsert(row('a', 0, { n: 1 })), upsert(row('b', 1, { n: 2 })), retract('a', 1)]);
    expect(out).toEqual([retract('a', 1), upsert(row('b', 1, { n: 2 }))]);
  });

  it('lets a later write of an older revision lose, as the table would', () => {
    expect(collapseWrites([upsert(row('k', 2, { n: 2 })), upsert(row('k', 1, { n: 1 }))])).toEqual([upsert(row('k', 2, { n: 2 }))]);
    expect(collapseWrites([retract('k', 3), upsert(row('k', 3, { n: 3 }))])).toEqual([upsert(row('k', 3, { n: 3 }))]);
  });
});

describe('classifying PostgreSQL errors', () => {
  it('retries lost connections, shutdowns, conflicts and exhausted resources', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', '57P01', '40001', '40P01', '53300', '08006']) expect(isTransientPostgresError({ code })).toBe(true);
    expect(isTransientPostgresError(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('fails at once on syntax, missing objects, bad data and missing privileges', () => {
    for (const code of ['42601', '42P01', '42703', '22P02', '22003', '42501', '28P01']) expect(isTransientPostgresError({ code })).toBe(false);
    expect(isTransientPostgresError(new TypeError('Do not know how to serialize a BigInt'))).toBe(false);
  });
});

describe('naming columns', () => {
  it('accepts any name PostgreSQL can hold once quoted', () => {
    for (const name of ['count', 'Mixed Case', 'we"ird; DROP TABLE x; --', 'ünïcødé']) expect(() => checkIdentifier(name, 'aggregate')).not.toThrow();
  });

  it('rejects empty, over-long, NUL-bearing and reserved names as a configuration mistake', () => {
    for (const name of ['', 'x'.repeat(64), 'a\0b', 'updated_at']) {
      expect(() => checkIdentifier(name, 'aggregate')).toThrow(expect.objectContaining({ code: 'JOB_INVALID', message: expect.stringMatching(/rename the aggregate/) }));
    }
  });
});

describe.skipIf(pg.skip)(`the PostgreSQL sink${pg.skip ? ` (skipped: ${pg.unreachable})` : ''}`, () => {
  let admin: Pool;
  const tables: string[] = [];
  const roles: string[] = [];
  const sinks: PostgresSink[] = [];

  beforeAll(() => {
    requirePostgres(pg);
    admin = new Pool({ connectionString: url, max: 2 });
  });

  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.close()));
    for (const t of tables.splice(0)) await admin.query(`DROP TABLE IF EXISTS ${t}`);
    for (const r of roles.splice(0)) await admin.query(`DROP ROLE IF EXISTS ${r}`);
  });

  afterAll(async () => {
    await admin?.end();
  });

  function freshTable(): string {
    const table = freshTableName('sf_pg_test');
    tables.push(table);
    return table;
  }

  async function open(table: string, at = url): Promise<PostgresSink> {
    const sink = await PostgresSink.open(at, table);
    sinks.push(sink);
    return sink;
  }

  async function columnTypes(table: string): Promise<Record<string, string>> {
    const r = await admin.query('SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1', [table]);
    return Object.fromEntries(r.rows.map((c) => [c.column_name, c.data_type]));
  }

  it('creates the table with its key columns, primary key and one typed column per aggregate', async () => {
    const table = freshTable();
    expect(await readPostgresResults(url, table, 'j')).toEqual([]);
    const sink = await open(table);
    await sink.write([upsert(row('k', 0, { n: 1.5, s: 'a', b: true, o: { x: 1 }, arr: [1, 2], 'we"ird name': 2, pending: null }))]);

    expect(await columnTypes(table)).toEqual({
      job: 'text',
      key: 'text',
      window_start: 'timestamp with time zone',
      window_end: 'timestamp with time zone',
      revision: 'bigint',
      updated_at: 'timestamp with time zone',
      n: 'double precision',
      s: 'text',
      b: 'boolean',
      o: 'jsonb',
      arr: 'jsonb',
      'we"ird name': 'double precision',
    });
    const pk = await admin.query(
      `SELECT a.attname FROM pg_index i JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
       WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY k.n`,
      [table],
    );
    expect(pk.rows.map((r) => r.attname)).toEqual(['job', 'key', 'window_start', 'window_end']);
    expect(await readPostgresResults(url, table, 'j')).toEqual([row('k', 0, { n: 1.5, s: 'a', b: true, o: { x: 1 }, arr: [1, 2], 'we"ird name': 2 })]);
  });

  it('rejects an aggregate name PostgreSQL cannot hold before writing anything', async () => {
    const table = freshTable();
    const sink = await open(table);
    for (const name of ['', 'updated_at', 'x'.repeat(64)]) {
      await expect(sink.write([upsert(row('k', 0, { [name]: 1 }))])).rejects.toMatchObject({ code: 'JOB_INVALID' });
    }
    expect((await admin.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(0);
  });

  it('reads back exactly what was written: numbers, strings, booleans, jsonb objects and arrays', async () => {
    const table = freshTable();
    const sink = await open(table);
    const rows = Array.from({ length: 6 }, (_, i) =>
      row(`user "${i}" ✓ \\ '`, i, {
        events: i * 1.5 + 0.1,
        label: i === 3 ? null : `l${i}`,
        ok: i % 2 === 0,
        top: [{ value: 'a', count: 3 }, { value: `b${i}`, count: 1 }],
        stats: { min: -1, max: 2 ** 53 - 1, nested: { s: 'x"y' } },
      }, T0 + i * MINUTE),
    );
    await sink.write(rows.map(upsert));
    // Another job's rows and aggregates share the table but not the job's results.
    await sink.write([upsert({ ...row('k', 0, { other: 7 }), job: 'other' })]);
    expect(await readPostgresResults(url, table, 'j')).toEqual(rows);
    expect(await readPostgresResults(url, table, 'other')).toEqual([{ ...row('k', 0, { other: 7 }), job: 'other' }]);
  });

  it('never lets an older revision overwrite a newer one', async () => {
    const table = freshTable();
    const sink = await open(table);
    await sink.write([upsert(row('k', 2, { n: 20 }))]);
    await sink.write([upsert(row('k', 1, { n: 10 }))]);
    expect(await readPostgresResults(url, table, 'j')).toEqual([row('k', 2, { n: 20 })]);
    await sink.write([upsert(row('k', 3, { n: 30 }))]);
    expect(await readPostgresResults(url, table, 'j')).toEqual([row('k', 3, { n: 30 })]);
  });

  it('leaves exactly the same rows when a batch is replayed', async () => {
    const table = freshTable();
    const sink = await open(table);
    const batch = Array.from({ length: 100 }, (_, i) => upsert(row(`k${i % 10}`, 1, { n: i, top: [i] }, T0 + Math.floor(i / 10) * MINUTE)));
    await sink.write(batch);
    const first = await readPostgresResults(url, table, 'j');
    await sink.write(batch);
    expect(await readPostgresResults(url, table, 'j')).toEqual(first);
    expect(first).toHaveLength(100);
    expect((await admin.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(100);
  });

  it('applies a retraction only when it is not older than the stored row', async () => {
    const table = freshTable();
    const sink = await open(table);
    await sink.write([upsert(row('k', 3, { n: 3 })), upsert(row('other', 0, { n: 0 }))]);
    await sink.write([retract('k', 2)]);
    expect((await readPostgresResults(url, table, 'j')).map((r) => r.key)).toEqual(['k', 'other']);
    await sink.write([retract('k', 3), retract('never-written', 9)]);
    expect(await readPostgresResults(url, table, 'j')).toEqual([row('other', 0, { n: 0 })]);
  });

  it('collapses several writes to one window within a batch', async () => {
    const table = freshTable();
    const sink = await open(table);
    await sink.write([upsert(row('c', 0, { n: 0 }))]);
    await sink.write([
      upsert(row('a', 0, { n: 1 })),
      upsert(row('a', 1, { n: 2 })),
      upsert(row('b', 0, { n: 1 })),
      retract('b', 1),
      retract('c', 0),
      upsert(row('c', 1, { n: 5 })),
      upsert(row('d', 2, { n: 2 })),
      upsert(row('d', 1, { n: 1 })),
    ]);
    expect(await readPostgresResults(url, table, 'j')).toEqual([row('a', 1, { n: 2 }), row('c', 1, { n: 5 }), row('d', 2, { n: 2 })]);
  });

  it('adds a column when a new aggregate appears, and waits for a value to type a null-only one', async () => {
    const table = freshTable();
    const sink = await open(table);
    await sink.write([upsert(row('k1', 0, { n: 1 }))]);
    await sink.write([upsert(row('k1', 1, { n: 3, extra: 'late' })), upsert(row('k2', 0, { n: 2, later: null }))]);
    expect(await columnTypes(table)).toMatchObject({ n: 'double precision', extra: 'text' });
    expect(await columnTypes(table)).not.toHaveProperty('later');
    await sink.write([upsert(row('k2', 1, { n: 2, later: { a: 1 } }))]);
    expect(await columnTypes(table)).toMatchObject({ later: 'jsonb' });
    expect(await readPostgresResults(url, table, 'j')).toEqual([row('k1', 1, { n: 3, extra: 'late', later: null }), row('k2', 1, { n: 2, extra: null, later: { a: 1 } })]);
  });

  it('creates the table once when several workers open it at the same moment', async () => {
    const table = freshTable();
    const opened = await Promise.all(Array.from({ length: 8 }, () => open(table)));
    await Promise.all(opened.map((s, i) => s.write([upsert(row(`w${i}`, 0, { [`only_${i}`]: i }))])));
    expect((await admin.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(8);
    expect(Object.keys(await columnTypes(table)).filter((c) => c.startsWith('only_'))).toHaveLength(8);
  });

  it('ends at the newest revision when two workers write the same windows concurrently', async () => {
    const table = freshTable();
    const [owner, zombie] = await Promise.all([open(table), open(table)]);
    const revisionBatch = (revision: number, reversed: boolean) => {
      const batch = Array.from({ length: 200 }, (_, i) => upsert(row(`k${i}`, revision, { n: revision * 1_000 + i, ...(revision >= 3 ? { tag: `r${revision}` } : {}) })));
      return reversed ? batch.reverse() : batch;
    };
    const revisions = Array.from({ length: 10 }, (_, r) => r);
    await Promise.all([
      (async () => { for (const r of revisions) await owner.write(revisionBatch(r, false)); })(),
      (async () => { for (const r of [...revisions].reverse()) await zombie.write(revisionBatch(r, true)); })(),
    ]);
    const rows = await readPostgresResults(url, table, 'j');
    expect(rows).toHaveLength(200);
    for (const r of rows) expect(r).toEqual(row(r.key, 9, { n: 9_000 + Number(r.key.slice(1)), tag: 'r9' }));
  });

  it('returns the rows PostgreSQL refuses for their data, with its code, and writes the others of the batch', async () => {
    const table = freshTable();
    const sink = await open(table);
    await sink.write([upsert(row('k', 0, { n: 1 }))]);
    const bad = upsert(row('k', 1, { n: 'not a number' }));
    const long = upsert(row(randomBytes(4_500).toString('hex'), 0, { n: 2 })); // incompressible, beyond what a btree index row holds
    const good = Array.from({ length: 40 }, (_, i) => upsert(row(`g${i}`, 0, { n: i })));
    const before = sink.roundTrips;
    const outcome = await sink.write([...good.slice(0, 20), bad, ...good.slice(20), long]);
    const byKey = new Map(outcome.rejected.map((r) => [r.write.op === 'upsert' ? r.write.row.key : '', r.message]));
    expect(outcome.rejected).toHaveLength(2);
    expect(byKey.get('k')).toMatch(/22P02/);
    expect(byKey.get((long as { row: { key: string } }).row.key)).toMatch(/54000|index row/);
    expect(sink.roundTrips - before).toBeLessThan(30);
    const rows = await readPostgresResults(url, table, 'j');
    expect(rows.find((r) => r.key === 'k')).toEqual(row('k', 0, { n: 1 }));
    expect(rows.filter((r) => r.key.startsWith('g'))).toHaveLength(40);
  });

  it('stores text with NUL characters (which PostgreSQL refuses) with U+FFFD in their place, in text and jsonb', async () => {
    const table = freshTable();
    const sink = await open(table);
    const outcome = await sink.write([upsert(row('k', 0, { label: 'Evil\u0000Brand', per_brand: { 'Evil\u0000Brand': 2 }, top: [{ value: 'a\u0000b', count: 1 }] }))]);
    expect(outcome.rejected).toEqual([]);
    expect(await readPostgresResults(url, table, 'j')).toEqual([row('k', 0, { label: 'Evil\ufffdBrand', per_brand: { 'Evil\ufffdBrand': 2 }, top: [{ value: 'a\ufffdb', count: 1 }] })]);
  });

  it('refuses at once (SINK_REFUSED, not retryable) when the role lacks privileges', async () => {
    const table = freshTable();
    await (await open(table)).write([upsert(row('k', 0, { n: 1 }))]);
    const role = `sf_pg_reader_${randomBytes(4).toString('hex')}`;
    roles.push(role);
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'reader'`);
    const asRole = new URL(url);
    asRole.username = role;
    asRole.password = 'reader';
    await expect(PostgresSink.open(asRole.toString(), table)).rejects.toMatchObject({ code: 'SINK_REFUSED', retryable: false, message: expect.stringMatching(/after 1 attempt\(s\).*42501/) });
  });

  it('retries a write whose connection the server terminates mid-statement', async () => {
    const table = freshTable();
    const sink = await open(table);
    await sink.write([upsert(row('k', 0, { n: 1 }))]);
    // Hold the table so the sink's statement is certainly in flight when its backend is terminated.
    const locker = await admin.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      const before = sink.roundTrips;
      const pending = sink.write([upsert(row('k', 1, { n: 2 }))]);
      const waiting = `SELECT pid FROM pg_stat_activity WHERE application_name = 'shardflow-sink' AND wait_event_type = 'Lock' AND query LIKE '%' || $1 || '%'`;
      let killed = 0;
      for (const deadline = Date.now() + 10_000; killed === 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
        killed = (await admin.query(`SELECT pg_terminate_backend(pid) FROM (${waiting}) w`, [table])).rowCount ?? 0;
      }
      expect(killed).toBeGreaterThan(0);
      await locker.query('COMMIT');
      await pending;
      expect(sink.roundTrips - before).toBeGreaterThanOrEqual(2);
    } finally {
      locker.release();
    }
    expect(await readPostgresResults(url, table, 'j')).toEqual([row('k', 1, { n: 2 })]);
  });

  it('writes a batch of 5,000 rows in one round trip', async () => {
    const table = freshTable();
    const sink = await open(table);
    await sink.write([upsert(row('warm-up', 0, { events: 0, label: '', top: [] }))]); // creates the columns
    const batch = (revision: number) =>
      Array.from({ length: 5_000 }, (_, i) => upsert(row(`key-${i % 500}`, revision, { events: i + revision, label: `l${i}`, top: [{ value: `v${i}`, count: i }] }, T0 + Math.floor(i / 500) * MINUTE)));
    for (const [what, revision] of [['insert', 0], ['update', 1]] as const) {
      const before = sink.roundTrips;
      const started = performance.now();
      await sink.write(batch(revision));
      const ms = performance.now() - started;
      console.log(`[postgres-sink.test] 5,000-row ${what} batch: ${ms.toFixed(0)} ms, ${sink.roundTrips - before} round trip(s)`);
      expect(sink.roundTrips - before).toBe(1);
    }
    const rows = await readPostgresResults(url, table, 'j');
    expect(rows).toHaveLength(5_001);
    expect(rows.find((r) => r.key === 'key-7' && r.window_start === T0 + 3 * MINUTE)).toEqual(
      row('key-7', 1, { events: 1_508, label: 'l1507', top: [{ value: 'v1507', count: 1_507 }] }, T0 + 3 * MINUTE),
    );
  });
});
