// A sink receives a partition's window results and retractions and writes them idempotently, keyed
// by (job, key, window start, window end). A write never lowers a stored revision: a replay after a
// crash, or a paused worker that wakes up behind the new owner, rewrites nothing newer.
//
// Two kinds of failure, handled differently (a poison row must not stop its partition):
// - the sink itself is unavailable (connection refused, a failover, a lock timeout): write() throws a
//   retryable SINK_FAILED after its own retries, and the partition retries the same batch later;
// - the sink refuses one row for something in the row (too long for an index, a character the store
//   cannot hold): write() stores the others and returns that row in `rejected`, with the reason, and
//   the partition dead-letters it (reason `sink-rejected`).
import { ShardflowError } from '../../common/errors.ts';
import type { ResultRow, SinkWrite } from '../../task/effects.ts';

export type { ResultRow, SinkWrite };

export interface RejectedWrite {
  readonly write: SinkWrite;
  /** What the store said, for the dead letter. */
  readonly message: string;
}

export interface SinkWriteOutcome {
  readonly rejected: readonly RejectedWrite[];
}

export const ALL_WRITTEN: SinkWriteOutcome = { rejected: [] };

export interface Sink {
  /** Writes a batch; resolves once every accepted write is durable. */
  write(batch: readonly SinkWrite[]): Promise<SinkWriteOutcome>;
  close(): Promise<void>;
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

/** Retries a transient failure with exponential backoff (50 ms doubling, `attempts` tries). A
 *  permanent failure is thrown at once as a SINK_FAILED that is not retryable. */
export async function withRetry<T>(what: string, attempts: number, fn: () => Promise<T>, isPermanent: (err: unknown) => boolean = () => false): Promise<T> {
  let delay = 50;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const permanent = isPermanent(err);
      if (attempt >= attempts || permanent) {
        throw new ShardflowError(permanent ? 'SINK_REFUSED' : 'SINK_FAILED', `${what} failed after ${attempt} attempt(s): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }
}

/**
 * Finds the rows a store refuses by splitting the batch: `write` is tried on the whole batch, and on
 * a failure that `isRowFault` blames on the data, on each half, down to single rows, which are then
 * rejected. A batch of n rows with k bad ones costs about 2k·log2(n) extra statements; a batch
 * without bad rows costs nothing extra. Failures not caused by the data are thrown as they are.
 */
export async function isolateRejected(
  batch: readonly SinkWrite[],
  write: (part: readonly SinkWrite[]) => Promise<void>,
  isRowFault: (err: unknown) => boolean,
): Promise<SinkWriteOutcome> {
  const rejected: RejectedWrite[] = [];
  const attempt = async (part: readonly SinkWrite[]): Promise<void> => {
    try {
      await write(part);
    } catch (err) {
      if (!isRowFault(err)) throw err;
      if (part.length === 1) {
        rejected.push({ write: part[0]!, message: err instanceof Error ? err.message : String(err) });
        return;
      }
      const half = Math.ceil(part.length / 2);
      await attempt(part.slice(0, half));
      await attempt(part.slice(half));
    }
  };
  if (batch.length > 0) await attempt(batch);
  return { rejected };
}

/**
 * A copy of a row's aggregate values with what text stores refuse taken out: NUL characters
 * (PostgreSQL text and jsonb, MongoDB field names) become U+FFFD, in strings and object keys at any
 * depth. Identity fields are left alone: keys are checked at the door (no control characters).
 */
export function sanitizeValue(value: unknown): unknown {
  if (typeof value === 'string') return value.includes('\u0000') ? value.replaceAll('\u0000', '\ufffd') : value;
  if (Array.isArray(value)) return value.map(sanitizeValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k.includes('\u0000') ? k.replaceAll('\u0000', '\ufffd') : k] = sanitizeValue(v);
    return out;
  }
  return value;
}

export function sanitizeRow(row: ResultRow): ResultRow {
  const out: ResultRow = { ...row };
  for (const [name, value] of Object.entries(row)) {
    if (name !== 'job' && name !== 'key' && name !== 'window_start' && name !== 'window_end' && name !== 'revision') out[name] = sanitizeValue(value);
  }
  return out;
}
