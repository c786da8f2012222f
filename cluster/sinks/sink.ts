// A sink receives a partition's window results and retractions and writes them idempotently, keyed
// by (job, key, window start, window end). A write never lowers a stored revision: a replay after a
// crash, or a paused worker that wakes up behind the new owner, rewrites nothing newer.
import { ShardflowError } from '../../common/errors.ts';

export interface ResultRow {
  job: string;
  key: string;
  window_start: number;
  window_end: number;
  revision: number;
  [aggregate: string]: unknown;
}

export type SinkWrite = { op: 'upsert'; row: ResultRow } | { op: 'delete'; job: string; key: string; window_start: number; window_end: number; revision: number };

export interface Sink {
  /** Writes a batch; resolves once every write is durable. Throws SINK_FAILED after retries. */
  write(batch: readonly SinkWrite[]): Promise<void>;
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

/** Retries a transient failure with exponential backoff (50 ms doubling, `attempts` tries). */
export async function withRetry<T>(what: string, attempts: number, fn: () => Promise<T>, isPermanent: (err: unknown) => boolean = () => false): Promise<T> {
  let delay = 50;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || isPermanent(err)) {
        throw new ShardflowError('SINK_FAILED', `${what} failed after ${attempt} attempt(s): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }
}
