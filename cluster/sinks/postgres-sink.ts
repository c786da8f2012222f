// PostgreSQL sink: one row per (job, key, window) in a table the sink creates itself, one typed column
// per aggregate, added the first time a non-null value of it arrives. A batch is a single statement
// fed by unnest() arrays, whose upserts and deletes are guarded by the stored revision, so a replay or
// a paused zombie worker never lowers a row. Column types follow the first non-null value: number ->
// double precision, string -> text, boolean -> boolean, object or array -> jsonb; a column seen only as
// null is not created until a value gives its type (until then it reads as null, as it would anyway).
import { Client, Pool, escapeIdentifier } from 'pg';
import { ShardflowError } from '../../common/errors.ts';
import { isolateRejected, sanitizeRow, withRetry, type ResultRow, type Sink, type SinkWrite, type SinkWriteOutcome } from './sink.ts';

/** The column type a new aggregate column gets from the JS type of its first non-null value. */
export type ColumnType = 'double precision' | 'text' | 'boolean' | 'jsonb';

/** Fields of a ResultRow that are the row's identity and revision, not aggregates. */
const ROW_FIELDS = new Set(['job', 'key', 'window_start', 'window_end', 'revision']);
/** Columns the sink owns; an aggregate may not take their names. */
const OWN_COLUMNS = new Set([...ROW_FIELDS, 'updated_at']);
/** PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1), which could merge two names. */
const MAX_IDENTIFIER_BYTES = 63;
/** One sink serves every partition of a job on a worker, each with at most one batch in flight. */
const POOL_SIZE = 4;
/** 50 ms doubling up to 2 s: about 5 s in all, enough to ride out a restart or a failover. */
const ATTEMPTS = 8;

const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57014', // query_canceled: our statement_timeout
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the server is starting
  '57P05', // idle_session_timeout
  '25006', // read_only_sql_transaction: connected to a standby during a failover
  '58000', // system_error
  '58030', // io_error
]);
/** Whole classes that are transient: 08 connection exception, 53 insufficient resources (53300 too many connections). */
const TRANSIENT_CLASSES = new Set(['08', '53']);
const NETWORK_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
/** Two workers creating the same table or column at once: the loser sees one of these; trying again finds it made. */
const CATALOG_RACE_SQLSTATES = new Set(['23505', '42P07', '42701', '42710']);

/** SQLSTATE classes that blame the data of a row: 22 data exception (a value of the wrong type, a
 *  character the encoding cannot hold), 54 program limit exceeded (a key too long for the index),
 *  23 integrity constraint violation. A batch that fails with one is split to find the rows. */
const ROW_FAULT_CLASSES = new Set(['22', '23', '54']);

/** True when the failure is caused by the data of the rows written, not by the database or the table. */
export function isRowFault(err: unknown): boolean {
  const cause = (err as { cause?: unknown } | null)?.cause ?? err;
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && ROW_FAULT_CLASSES.has(code.slice(0, 2)) && code !== '23505';
}

/** True when retrying can help: a dropped or refused connection, a server going down, a lock conflict. */
export function isTransientPostgresError(err: unknown): boolean {
  if (err instanceof AggregateError) return err.errors.some(isTransientPostgresError);
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (NETWORK_ERRNOS.has(code)) return true;
    return TRANSIENT_SQLSTATES.has(code) || TRANSIENT_CLASSES.has(code.slice(0, 2));
  }
  // pg reports a socket closed under it, or a connect timeout, as an Error without a code.
  return /Connection terminated|timeout exceeded when trying to connect|connection timeout/i.test(String((err as Error | null)?.message));
}

/** Rejects names PostgreSQL cannot hold exactly as written; everything else is quoted with escapeIdentifier. */
export function checkIdentifier(name: string, what: 'table' | 'aggregate'): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  const problem =
    name === '' ? 'it is empty'
    : name.includes('\0') ? 'it contains a NUL character'
    : bytes > MAX_IDENTIFIER_BYTES ? `it is ${bytes} bytes long and PostgreSQL identifiers hold at most ${MAX_IDENTIFIER_BYTES}`
    : what === 'aggregate' && OWN_COLUMNS.has(name) ? 'the PostgreSQL sink keeps a column of that name itself'
    : undefined;
  if (problem) {
    const fix = what === 'aggregate' ? 'rename the aggregate in the job definition' : "name another table in the job's sink";
    throw new ShardflowError(what === 'aggregate' ? 'JOB_INVALID' : 'CONFIG_INVALID', `${what} name "${name}" cannot be used as a PostgreSQL identifier: ${problem}; ${fix}`);
  }
}

/** Column type for an aggregate value; undefined for null, whose type is not known yet. */
export function columnTypeOf(name: string, value: unknown): ColumnType | undefined {
  if (value === null || value === undefined) return undefined;
  switch (typeof value) {
    case 'number':
      return 'double precision';
    case 'string':
      return 'text';
    case 'boolean':
      return 'boolean';
    case 'object':
      return 'jsonb';
    default:
      throw new ShardflowError('SINK_REFUSED', `aggregate "${name}" produced a ${typeof value}, which the PostgreSQL sink cannot store; return a number, string, boolean, object or array`);
  }
}

/**
 * Collapses several writes to one window into the one that decides it, in batch order with the same
 * guard as the table (a later write wins unless its revision is older), since ON CONFLICT cannot touch
 * a row twice in one statement. Sorted by window so that concurrent workers lock rows in one order.
 */
export function collapseWrites(batch: readonly SinkWrite[]): SinkWrite[] {
  const kept = new Map<string, SinkWrite>();
  for (const w of batch) {
    const id = JSON.stringify(windowOf(w));
    const before = kept.get(id);
    if (!before || revisionOf(w) >= revisionOf(before)) kept.set(id, w);
  }
  return [...kept.values()].sort((a, b) => compareWindows(windowOf(a), windowOf(b)));
}

export class PostgresSink implements Sink {
  /** Aggregate columns of the table and their types as PostgreSQL formats them. */
  private readonly columns = new Map<string, string>();
  /** Schema changes from concurrent writes of this process run one at a time. */
  private schemaChange: Promise<void> = Promise.resolve();
  private sent = 0;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly pool: Pool,
    private readonly table: string,
  ) {}

  /** Connects, creates the table when it is missing and learns its aggregate columns. */
  static async open(url: string, table: string): Promise<PostgresSink> {
    checkIdentifier(table, 'table');
    const pool = new Pool({ connectionString: url, max: POOL_SIZE, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 5_000, statement_timeout: 30_000, application_name: 'shardflow-sink' });
    // An idle connection that the server closes (restart, admin shutdown) is already dropped by the
    // pool and the next query opens a new one; unheard, the 'error' event would kill the process.
    pool.on('error', () => {});
    const sink = new PostgresSink(pool, table);
    try {
      await sink.createTable();
    } catch (err) {
      await pool.end();
      throw err;
    }
    return sink;
  }

  /** Queries sent so far, each one round trip; lets tests bound the round trips of a batch. */
  get roundTrips(): number {
    return this.sent;
  }

  async write(batch: readonly SinkWrite[]): Promise<SinkWriteOutcome> {
    if (batch.length === 0) return { rejected: [] };
    const writes = collapseWrites(batch.map((w) => (w.op === 'upsert' ? { op: 'upsert', row: sanitizeRow(w.row) } : w)));
    await this.addColumns(writes);
    return isolateRejected(
      writes,
      async (part) => {
        const statement = this.statementFor(part);
        await withRetry(`PostgreSQL write of ${part.length} row(s) to table ${this.table}`, ATTEMPTS, () => this.query(statement.text, statement.values), (err) => !isTransientPostgresError(err));
      },
      isRowFault,
    );
  }

  async close(): Promise<void> {
    // pg-pool throws when ended twice; a worker may close on shutdown and again on an error path.
    this.closing ??= this.pool.end();
    await this.closing;
  }

  private async createTable(): Promise<void> {
    const t = escapeIdentifier(this.table);
    await withRetry(
      `PostgreSQL creation of table ${this.table}`,
      ATTEMPTS,
      () =>
        this.query(`CREATE TABLE IF NOT EXISTS ${t} (
          job text NOT NULL,
          key text NOT NULL,
          window_start timestamptz NOT NULL,
          window_end timestamptz NOT NULL,
          revision bigint NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (job, key, window_start, window_end))`),
      isPermanentForDdl,
    );
    const all = await this.loadColumns();
    const missing = [...OWN_COLUMNS].filter((c) => !all.has(c));
    if (missing.length > 0) {
      throw new ShardflowError('CONFIG_INVALID', `table ${this.table} exists but is not a shardflow results table (it lacks ${missing.join(', ')}); name another table in the job's sink`);
    }
  }

  /** Reads the table's columns from the catalog; the aggregate ones become the cache. */
  private async loadColumns(): Promise<Map<string, string>> {
    const result = await withRetry(
      `PostgreSQL catalog read of table ${this.table}`,
      ATTEMPTS,
      () =>
        this.query(
          `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
           WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`,
          [escapeIdentifier(this.table)],
        ),
      (err) => !isTransientPostgresError(err),
    );
    const all = new Map(result.rows.map((r) => [r.name as string, r.type as string]));
    for (const [name, type] of all) if (!OWN_COLUMNS.has(name)) this.columns.set(name, type);
    return all;
  }

  /** Adds a column for each aggregate seen with a value for the first time. */
  private async addColumns(writes: readonly SinkWrite[]): Promise<void> {
    const needed = () => {
      const missing = new Map<string, ColumnType>();
      for (const w of writes) {
        if (w.op !== 'upsert') continue;
        for (const [name, value] of aggregatesOf(w.row)) {
          if (this.columns.has(name) || missing.has(name)) continue;
          checkIdentifier(name, 'aggregate');
          const type = columnTypeOf(name, value);
          if (type) missing.set(name, type);
        }
      }
      return missing;
    };
    if (needed().size === 0) return;
    const change = this.schemaChange.then(async () => {
      const missing = needed(); // another write of this process may have added them meanwhile
      if (missing.size === 0) return;
      const adds = [...missing].map(([name, type]) => `ADD COLUMN IF NOT EXISTS ${escapeIdentifier(name)} ${type}`);
      await withRetry(`PostgreSQL new column(s) ${[...missing.keys()].join(', ')} in table ${this.table}`, ATTEMPTS, () => this.query(`ALTER TABLE ${escapeIdentifier(this.table)} ${adds.join(', ')}`), isPermanentForDdl);
      // Another worker may have made a column first, with another type: write what the table holds.
      await this.loadColumns();
    });
    this.schemaChange = change.catch(() => {});
    await change;
  }

  /**
   * One statement for the whole batch: a DELETE for the retractions and one INSERT ... ON CONFLICT per
   * set of aggregate names (normally one per job), as data-modifying CTEs over disjoint windows. The
   * number of parameters does not grow with the batch: each column travels as one array.
   */
  private statementFor(writes: readonly SinkWrite[]): { text: string; values: unknown[] } {
    const t = escapeIdentifier(this.table);
    const values: unknown[] = [];
    const param = (column: unknown[], type: string) => `$${values.push(column)}::${type}[]`;
    const keyParams = (ws: readonly { job: string; key: string; window_start: number; window_end: number; revision: number }[]) =>
      [
        param(ws.map((w) => w.job), 'text'),
        param(ws.map((w) => w.key), 'text'),
        param(ws.map((w) => timestamp(w.window_start)), 'timestamptz'),
        param(ws.map((w) => timestamp(w.window_end)), 'timestamptz'),
        param(ws.map((w) => w.revision), 'bigint'),
      ].join(', ');

    const parts: string[] = [];
    const deletes = writes.flatMap((w) => (w.op === 'delete' ? [w] : []));
    if (deletes.length > 0) {
      parts.push(`DELETE FROM ${t} AS t USING unnest(${keyParams(deletes)}) AS d(job, key, window_start, window_end, revision)
        WHERE t.job = d.job AND t.key = d.key AND t.window_start = d.window_start AND t.window_end = d.window_end AND t.revision <= d.revision`);
    }
    for (const { names, rows } of this.groupByColumns(writes)) {
      const quoted = names.map(escapeIdentifier);
      const rowParams = [keyParams(rows)];
      for (const name of names) {
        const type = this.columns.get(name)!;
        rowParams.push(param(rows.map((r) => encode(r[name], type)), type));
      }
      parts.push(`INSERT INTO ${t} AS t (job, key, window_start, window_end, revision${quoted.map((q) => `, ${q}`).join('')})
        SELECT * FROM unnest(${rowParams.join(', ')})
        ON CONFLICT (job, key, window_start, window_end) DO UPDATE
        SET revision = excluded.revision, updated_at = now()${quoted.map((q) => `, ${q} = excluded.${q}`).join('')}
        WHERE t.revision <= excluded.revision`);
    }
    const text = parts.length === 1 ? parts[0]! : `WITH ${parts.map((p, i) => `w${i} AS (${p})`).join(',\n')} SELECT 1`;
    return { text, values };
  }

  /**
   * Upserted rows grouped by the aggregate columns they set. A row sets the aggregates it names; a null
   * for a column not yet created is left out, since a missing column reads as null anyway.
   */
  private groupByColumns(writes: readonly SinkWrite[]): { names: string[]; rows: ResultRow[] }[] {
    const groups = new Map<string, { names: string[]; rows: ResultRow[] }>();
    for (const w of writes) {
      if (w.op !== 'upsert') continue;
      const names = aggregatesOf(w.row)
        .filter(([name]) => this.columns.has(name))
        .map(([name]) => name)
        .sort();
      const id = JSON.stringify(names);
      const group = groups.get(id);
      if (group) group.rows.push(w.row);
      else groups.set(id, { names, rows: [w.row] });
    }
    return [...groups.values()];
  }

  private async query(text: string, values?: unknown[]) {
    this.sent++;
    try {
      return await this.pool.query(text, values);
    } catch (err) {
      throw explain(err);
    }
  }
}

/**
 * Every result of `job` in `table`, shaped like the KV reader's rows (window bounds in epoch ms) and
 * sorted the same way. Columns without a value in any of the job's rows are left out: they belong to
 * other jobs sharing the table. A table not created yet holds no results.
 */
/** A job's results; with `latest`, only that many rows of the latest windows (the console's view). */
export async function readPostgresResults(url: string, table: string, job: string, latest?: number): Promise<ResultRow[]> {
  checkIdentifier(table, 'table');
  return withRetry(
    `PostgreSQL read of job ${job} from table ${table}`,
    ATTEMPTS,
    async () => {
      const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000, application_name: 'shardflow-results' });
      client.on('error', () => {}); // a dropped connection fails the pending query, which is retried
      try {
        await client.connect();
        const found = await client.query('SELECT to_regclass($1) IS NOT NULL AS found', [escapeIdentifier(table)]);
        if (!found.rows[0]?.found) return [];
        const limit = latest === undefined ? '' : ` ORDER BY window_start DESC LIMIT ${Math.max(1, Math.floor(latest))}`;
        const result = await client.query(`SELECT * FROM ${escapeIdentifier(table)} WHERE job = $1${limit}`, [job]);
        const used = new Set<string>();
        for (const r of result.rows) for (const [name, value] of Object.entries(r)) if (value !== null) used.add(name);
        return result.rows.map((r) => toResultRow(r, used)).sort((a, b) => compareWindows(a, b));
      } catch (err) {
        throw explain(err);
      } finally {
        await client.end().catch(() => {});
      }
    },
    (err) => !isTransientPostgresError(err),
  );
}

function toResultRow(r: Record<string, unknown>, used: ReadonlySet<string>): ResultRow {
  const row: ResultRow = {
    job: r.job as string,
    key: r.key as string,
    window_start: (r.window_start as Date).getTime(),
    window_end: (r.window_end as Date).getTime(),
    revision: Number(r.revision), // bigint arrives as a string; revisions stay far below 2^53
  };
  for (const [name, value] of Object.entries(r)) if (!OWN_COLUMNS.has(name) && used.has(name)) row[name] = value;
  return row;
}

function aggregatesOf(row: ResultRow): [string, unknown][] {
  // An undefined aggregate is absent, as JSON.stringify (the KV sink) treats it.
  return Object.entries(row).filter(([name, value]) => !ROW_FIELDS.has(name) && value !== undefined);
}

/** The text PostgreSQL parses for a value of a column; objects become JSON for jsonb (and fail loudly elsewhere). */
function encode(value: unknown, columnType: string): unknown {
  if (value === null || value === undefined) return null;
  if (columnType === 'jsonb' || columnType === 'json' || typeof value === 'object') return JSON.stringify(value);
  return value;
}

function timestamp(ms: number): string {
  if (!Number.isFinite(ms)) throw new ShardflowError('SINK_REFUSED', `window bound ${ms} is not an epoch-milliseconds number`);
  return new Date(ms).toISOString(); // exact to the millisecond, unlike to_timestamp(ms / 1000.0)
}

type WindowId = { job: string; key: string; window_start: number; window_end: number };

function windowOf(w: SinkWrite): WindowId {
  const { job, key, window_start, window_end } = w.op === 'upsert' ? w.row : w;
  return { job, key, window_start, window_end };
}

function revisionOf(w: SinkWrite): number {
  return w.op === 'upsert' ? w.row.revision : w.revision;
}

function compareWindows(a: WindowId, b: WindowId): number {
  return a.window_start - b.window_start || compareStrings(a.key, b.key) || a.window_end - b.window_end || compareStrings(a.job, b.job);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isPermanentForDdl(err: unknown): boolean {
  return !isTransientPostgresError(err) && !CATALOG_RACE_SQLSTATES.has(String((err as { code?: unknown }).code));
}

/** Puts the SQLSTATE and the server's detail into the message withRetry reports, keeping the code for classification. */
function explain(err: unknown): Error {
  if (!(err instanceof Error)) return new Error(String(err));
  const e = err as Error & { code?: string; detail?: string; column?: string };
  // A refused connection to a dual-stack host is an AggregateError with an empty message.
  if (e.message === '' && err instanceof AggregateError) return Object.assign(new Error(`${e.code ?? 'connection failed'}: ${err.errors.map((x) => String((x as Error).message)).join('; ')}`, { cause: err }), { code: e.code });
  if (typeof e.code !== 'string' || NETWORK_ERRNOS.has(e.code) || !/^[0-9A-Z]{5}$/.test(e.code)) return err;
  const detail = [e.detail, e.column && `column ${e.column}`].filter(Boolean).join('; ');
  return Object.assign(new Error(`PostgreSQL ${e.code}: ${e.message}${detail ? ` (${detail})` : ''}`, { cause: err }), { code: e.code });
}
