// The PostgreSQL of the integration tests: 127.0.0.1:5432, database `test`, or
// SHARDFLOW_TEST_POSTGRES_URL. Probed once per test file: where it is unreachable the PostgreSQL
// tests skip, with the reason printed, except under CI=true, where they fail. Every test writes to
// tables of its own (freshTableName) and drops them afterwards.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export interface TestPostgres {
  url: string;
  /** Why the server cannot be used, or undefined when it can. */
  unreachable: string | undefined;
  /** Whether PostgreSQL tests skip: unreachable, and not in CI. */
  skip: boolean;
}

export async function testPostgres(file: string): Promise<TestPostgres> {
  const url = process.env.SHARDFLOW_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const unreachable = await probe(url);
  const skip = unreachable !== undefined && process.env.CI !== 'true';
  if (skip) console.warn(`[${file}] PostgreSQL tests skipped: ${unreachable}`);
  return { url, unreachable, skip };
}

/** For a beforeAll of the PostgreSQL tests: under CI=true an unreachable server is a failure, not a skip. */
export function requirePostgres(pg: TestPostgres): void {
  if (pg.unreachable) throw new Error(`CI=true requires PostgreSQL for these tests, but ${pg.unreachable}; start it or set SHARDFLOW_TEST_POSTGRES_URL`);
}

/** A table name no other test (or test run) uses. */
export function freshTableName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Runs one statement on a connection of its own. */
export async function queryPostgres(url: string, text: string, values?: unknown[], connectTimeoutMs = 5_000): Promise<Record<string, unknown>[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.query(text, values)).rows as Record<string, unknown>[];
  } finally {
    await client.end().catch(() => {});
  }
}

/** Undefined when the server answers, else why not (the URL shown without its password). */
async function probe(at: string): Promise<string | undefined> {
  try {
    await queryPostgres(at, 'SELECT 1', [], 3_000);
    return undefined;
  } catch (err) {
    const shown = new URL(at);
    if (shown.password) shown.password = '***';
    const e = err as Error & { code?: string };
    return `PostgreSQL at ${shown.toString()} is unreachable (${[e.code, e.message].filter(Boolean).join(': ')})`;
  }
}
