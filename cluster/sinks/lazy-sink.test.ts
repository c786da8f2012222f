// A sink whose database is down when the worker starts: the worker starts anyway, writes fail with a
// retryable SINK_FAILED (the partition waits and tries again), and once the database answers the
// same sink writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../nats-server.ts';
import { freshTableName, queryPostgres, requirePostgres, testPostgres, type TestPostgres } from '../../test/postgres-harness.ts';
import { LazySink } from './lazy-sink.ts';
import { PostgresSink, readPostgresResults } from './postgres-sink.ts';

let pg: TestPostgres;
const table = freshTableName('lazy');

beforeAll(async () => {
  pg = await testPostgres('lazy-sink.test.ts');
  if (!pg.skip) requirePostgres(pg);
});
afterAll(async () => {
  if (!pg.skip) await queryPostgres(pg.url, `DROP TABLE IF EXISTS ${table}`);
});

describe('a sink opened on first use', () => {
  it('fails retryably while the database is unreachable and writes once it answers', async (ctx) => {
    if (pg.skip) ctx.skip();
    const down = new URL(pg.url);
    down.port = String(await freePort());
    let url = down.toString();
    let opens = 0;
    const sink = new LazySink('PostgreSQL', () => {
      opens++;
      return PostgresSink.open(url, table);
    });
    const row = { job: 'j', key: 'k', window_start: 0, window_end: 1_000, revision: 0, n: 1 };
    await expect(sink.write([{ op: 'upsert', row }])).rejects.toMatchObject({ code: 'SINK_FAILED', retryable: true });
    url = pg.url;
    await expect(sink.write([{ op: 'upsert', row }])).resolves.toEqual({ rejected: [] });
    expect(opens).toBe(2);
    expect(await readPostgresResults(pg.url, table, 'j')).toEqual([row]);
    await sink.close();
  }, 60_000);
});
