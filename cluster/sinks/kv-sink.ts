// The embedded default sink: a JetStream KV bucket per job, one entry per (key, window), the row as
// JSON. Each write is a compare-and-set that keeps the highest revision.
import type { KV } from '@nats-io/kv';
import { forEachLimited, withRetry, type ResultRow, type Sink, type SinkWrite } from './sink.ts';

const CAS_FAILED = 10071;

/** KV key of a result: window bounds, then the key in base64url (KV keys allow few characters). */
export function resultKey(key: string, start: number, end: number): string {
  return `w.${start}.${end}.${Buffer.from(key, 'utf8').toString('base64url') || '_'}`;
}

export class KvSink implements Sink {
  constructor(private readonly kv: KV) {}

  async write(batch: readonly SinkWrite[]): Promise<void> {
    // Writes to the same (key, window) stay in order: group them, run groups concurrently.
    const groups = new Map<string, SinkWrite[]>();
    for (const w of batch) {
      const k = w.op === 'upsert' ? resultKey(w.row.key, w.row.window_start, w.row.window_end) : resultKey(w.key, w.window_start, w.window_end);
      const list = groups.get(k);
      if (list) list.push(w);
      else groups.set(k, [w]);
    }
    await forEachLimited([...groups], 64, async ([k, writes]) => {
      for (const w of writes) await withRetry(`KV result ${k}`, 5, () => this.apply(k, w));
    });
  }

  private async apply(k: string, w: SinkWrite): Promise<void> {
    if (w.op === 'upsert' && w.row.revision === 0) {
      // The common case, a window's first result: one round trip when the key is new.
      try {
        await this.kv.create(k, JSON.stringify(w.row));
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    for (;;) {
      const current = await this.kv.get(k);
      const stored = current && current.operation === 'PUT' ? (current.json() as ResultRow) : null;
      if (stored && stored.revision > (w.op === 'upsert' ? w.row.revision : w.revision)) return;
      try {
        if (w.op === 'upsert') {
          const value = JSON.stringify(w.row);
          if (current) await this.kv.update(k, value, current.revision);
          else await this.kv.create(k, value);
        } else if (stored && current) {
          await this.kv.delete(k, { previousSeq: current.revision });
        }
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
        // Someone wrote in between: read again and decide again.
      }
    }
  }

  async close(): Promise<void> {}
}

function isConflict(err: unknown): boolean {
  const code = (err as { api_error?: { err_code?: number } }).api_error?.err_code ?? (err as { code?: number }).code;
  return code === CAS_FAILED || /wrong last sequence|key exists/.test(String((err as Error).message));
}

/** Every result row in a job's KV bucket, sorted by window start, then key. */
export async function readKvResults(kv: KV): Promise<ResultRow[]> {
  const keys: string[] = [];
  for await (const k of await kv.keys('w.>')) keys.push(k);
  const rows: ResultRow[] = [];
  await forEachLimited(keys, 64, async (k) => {
    const e = await kv.get(k);
    if (e && e.operation === 'PUT') rows.push(e.json() as ResultRow);
  });
  return rows.sort((a, b) => a.window_start - b.window_start || (a.key < b.key ? -1 : a.key > b.key ? 1 : a.window_end - b.window_end));
}
