// The embedded default sink: a JetStream KV bucket per job, one entry per (key, window), the row as
// JSON. A window's first result (revision 0, almost every write) is one asynchronous publish that
// JetStream stores only if the key has no value yet ("expected last subject sequence 0"): if it has
// one, that value is revision 0 or newer (a replay, or a newer owner's write), so there is nothing to
// do. Later revisions and retractions read the stored revision and compare-and-set.
import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { MsgHdrs } from '@nats-io/transport-node';
import { firstOfSubjectHeaders, PublishRefused, WRONG_LAST_SEQUENCE, type AsyncPublisher } from '../../nats/async-publisher.ts';
import { forEachLimited, withRetry, type RejectedWrite, type ResultRow, type Sink, type SinkWrite, type SinkWriteOutcome } from './sink.ts';

const CAS_FAILED = 10071;
/** Keys longer than this (UTF-8 bytes) are stored under a digest: a KV key is a subject, and subjects
 *  travel in the protocol line that nats-server caps at 4 KiB. */
const MAX_PLAIN_KEY_BYTES = 180;
/** Room for the subject and headers next to the value in one message. */
const MESSAGE_OVERHEAD = 2_048;

/** KV key of a result: window bounds, then the key in base64url (KV keys allow few characters), or
 *  "=" and the base64url SHA-256 of a long key ("=" never occurs in base64url, so the two never meet). */
export function resultKey(key: string, start: number, end: number): string {
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.byteLength > MAX_PLAIN_KEY_BYTES) return `w.${start}.${end}.=${createHash('sha256').update(bytes).digest('base64url')}`;
  return `w.${start}.${end}.${bytes.toString('base64url') || '_'}`;
}

export class KvSink implements Sink {
  private readonly createHeaders: MsgHdrs = firstOfSubjectHeaders();

  constructor(
    private readonly kv: KV,
    /** The bucket's name: a write is a publish to $KV.<bucket>.<key>. */
    private readonly bucket: string,
    private readonly publisher: AsyncPublisher,
    /** Largest message the server takes. */
    private readonly maxPayload: number,
  ) {}

  async write(batch: readonly SinkWrite[]): Promise<SinkWriteOutcome> {
    // Writes to the same (key, window) stay in order: group them; groups run concurrently.
    const groups = new Map<string, SinkWrite | SinkWrite[]>();
    for (const w of batch) {
      const k = w.op === 'upsert' ? resultKey(w.row.key, w.row.window_start, w.row.window_end) : resultKey(w.key, w.window_start, w.window_end);
      const before = groups.get(k);
      if (before === undefined) groups.set(k, w);
      else if (Array.isArray(before)) before.push(w);
      else groups.set(k, [before, w]);
    }
    const rejected: RejectedWrite[] = [];
    const pending: Promise<void>[] = [];
    for (const [k, writes] of groups) {
      pending.push(
        Array.isArray(writes)
          ? (async () => {
              for (const w of writes) await this.apply(k, w, rejected);
            })()
          : this.apply(k, writes, rejected),
      );
    }
    await Promise.all(pending);
    return { rejected };
  }

  /** One write; a row too large for a message is rejected (dead-lettered by the caller). */
  private async apply(k: string, w: SinkWrite, rejected: RejectedWrite[]): Promise<void> {
    const value = w.op === 'upsert' ? JSON.stringify(w.row) : '';
    const room = this.maxPayload - MESSAGE_OVERHEAD;
    if (value.length > room / 3 && Buffer.byteLength(value) > room) {
      rejected.push({ write: w, message: `the result row is ${Buffer.byteLength(value)} bytes of JSON, more than the NATS server's max payload of ${this.maxPayload} bytes allows` });
      return;
    }
    if (w.op === 'upsert' && w.row.revision === 0) {
      // The common case, a window's first result: one publish, no read. Stored unless the key has a
      // value, which is then this revision or a newer one.
      try {
        await this.publisher.publish(`$KV.${this.bucket}.${k}`, value, { prebuilt: this.createHeaders });
        return;
      } catch (err) {
        if (err instanceof PublishRefused && err.code === WRONG_LAST_SEQUENCE) return;
        // Anything else (a timeout while NATS fails over): the careful path, with retries.
      }
    }
    await withRetry(`KV result ${k}`, 5, () => this.compareAndSet(k, w, value));
  }

  private async compareAndSet(k: string, w: SinkWrite, value: string): Promise<void> {
    for (;;) {
      const current = await this.kv.get(k);
      const stored = current && current.operation === 'PUT' ? (current.json() as ResultRow) : null;
      if (stored && stored.revision > (w.op === 'upsert' ? w.row.revision : w.revision)) return;
      try {
        if (w.op === 'upsert') {
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
  // A key written while the listing runs can be listed twice: a KV key is one result, so once.
  const listed = new Set<string>();
  for await (const k of await kv.keys('w.>')) listed.add(k);
  const keys = [...listed];
  const rows: ResultRow[] = [];
  await forEachLimited(keys, 64, async (k) => {
    const e = await kv.get(k);
    if (e && e.operation === 'PUT') rows.push(e.json() as ResultRow);
  });
  return rows.sort((a, b) => a.window_start - b.window_start || (a.key < b.key ? -1 : a.key > b.key ? 1 : a.window_end - b.window_end));
}
