// The dead letters and late events of a job, as the console shows them: counts by reason over what
// the stream holds (a message replaced on its subject, or removed by the stream's limits, leaves
// them), and the latest entries (headers and size, not payloads) to browse and filter. Each refresh
// reads only what was added since the last one (an ordered consumer from the next sequence).
// Payloads are fetched one at a time when someone opens an entry.
import { DeliverPolicy, jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { HEADERS, sideOutputSource } from '../common/names.ts';

export interface SideEntry {
  seq: number;
  subject: string;
  reason: string;
  /** What went wrong, as the worker said it. */
  message: string;
  /** Partition that read the event ("i" for the ingest routers). */
  partition: string;
  /** When the stream stored it, epoch ms. */
  at: number;
  bytes: number;
}

/** The latest entries kept per stream for browsing. */
export const KEEP_ENTRIES = 2_000;
/** Messages indexed per stream for the counts: past it the counts cover the latest this many. */
export const MAX_INDEXED = 100_000;
const READ_PER_REFRESH = 20_000;
const FETCH_WAIT_MS = 1_000;

interface Indexed {
  seq: number;
  subject: string;
  reason: string;
  /** False once a later message on its subject replaced it (one message per subject). */
  live: boolean;
}

export class SideOutputIndex {
  private lastSeq = 0;
  private readonly counts = new Map<string, number>();
  /** What the counts are made of, in stream order, and the latest message of each subject. */
  private indexed: Indexed[] = [];
  private readonly bySubject = new Map<string, Indexed>();
  private entries: SideEntry[] = [];
  /** The stream holds more than MAX_INDEXED messages: counts are of the latest ones. */
  partial = false;

  constructor(readonly stream: string) {}

  /** Reads what was added since the last refresh (at most READ_PER_REFRESH messages: a flood is
   *  caught up with over several refreshes); a stream that is missing (no job yet) reads as empty. */
  async refresh(nc: NatsConnection, jsm: JetStreamManager): Promise<void> {
    let state;
    try {
      state = (await jsm.streams.info(this.stream)).state;
    } catch {
      return;
    }
    if (state.last_seq < this.lastSeq) this.reset(); // the stream was deleted and made again
    // Messages the stream's limits removed leave the counts, which describe what is stored.
    this.forgetBefore(state.first_seq);
    if (state.messages === 0 || state.last_seq <= this.lastSeq) {
      this.lastSeq = Math.max(this.lastSeq, state.last_seq);
      return;
    }
    const from = Math.max(this.lastSeq + 1, state.first_seq);
    // Fetches end after FETCH_WAIT_MS even when nothing comes: the range's last messages may be gone
    // (replaced on their subject) by the time they are read.
    const consumer = await jetstream(nc).consumers.get(this.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
    let read = 0;
    let reachedEnd = false;
    while (read < READ_PER_REFRESH) {
      const batch = await consumer.fetch({ max_messages: 1_000, expires: FETCH_WAIT_MS });
      let got = 0;
      for await (const m of batch) {
        got++;
        const header = (name: string) => m.headers?.get(name) || undefined;
        this.add({
          seq: m.seq,
          subject: m.subject,
          reason: header(HEADERS.reason) ?? 'unknown',
          message: header(HEADERS.message) ?? '',
          partition: header(HEADERS.partition) ?? sideOutputSource(m.subject),
          at: Math.floor(m.info.timestampNanos / 1e6),
          bytes: m.data.length,
        });
        if (m.info.pending === 0) break;
      }
      read += got;
      if (got === 0 || this.lastSeq >= state.last_seq) {
        reachedEnd = true;
        break;
      }
    }
    if (reachedEnd) this.lastSeq = Math.max(this.lastSeq, state.last_seq);
    if (this.entries.length > KEEP_ENTRIES) this.entries = this.entries.slice(-KEEP_ENTRIES);
  }

  private add(entry: SideEntry): void {
    const replaced = this.bySubject.get(entry.subject);
    if (replaced?.live) {
      replaced.live = false;
      this.count(replaced.reason, -1);
      this.entries = this.entries.filter((e) => e.seq !== replaced.seq);
    }
    const indexed: Indexed = { seq: entry.seq, subject: entry.subject, reason: entry.reason, live: true };
    this.indexed.push(indexed);
    this.bySubject.set(entry.subject, indexed);
    this.count(entry.reason, 1);
    this.entries.push(entry);
    this.lastSeq = entry.seq;
    if (this.indexed.length > MAX_INDEXED) {
      this.partial = true;
      this.drop(this.indexed.length - MAX_INDEXED);
    }
  }

  private forgetBefore(firstSeq: number): void {
    let n = 0;
    while (n < this.indexed.length && this.indexed[n]!.seq < firstSeq) n++;
    if (n > 0) this.drop(n);
    if (this.entries.length > 0 && this.entries[0]!.seq < firstSeq) this.entries = this.entries.filter((e) => e.seq >= firstSeq);
  }

  /** Forgets the `n` oldest indexed messages. */
  private drop(n: number): void {
    for (const old of this.indexed.slice(0, n)) {
      if (!old.live) continue;
      this.count(old.reason, -1);
      if (this.bySubject.get(old.subject) === old) this.bySubject.delete(old.subject);
    }
    this.indexed = this.indexed.slice(n);
  }

  private count(reason: string, by: number): void {
    const n = (this.counts.get(reason) ?? 0) + by;
    if (n > 0) this.counts.set(reason, n);
    else this.counts.delete(reason);
  }

  private reset(): void {
    this.lastSeq = 0;
    this.counts.clear();
    this.indexed = [];
    this.bySubject.clear();
    this.entries = [];
    this.partial = false;
  }

  byReason(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  /** Newest first, optionally of one reason. */
  latest(options: { reason?: string; limit: number }): SideEntry[] {
    const out: SideEntry[] = [];
    for (let i = this.entries.length - 1; i >= 0 && out.length < options.limit; i--) {
      const e = this.entries[i]!;
      if (options.reason === undefined || e.reason === options.reason) out.push(e);
    }
    return out;
  }
}

/** One stored message with its payload as text (invalid UTF-8 shown as U+FFFD) and, for binary
 *  payloads, as base64 too. */
export async function readSideEntry(jsm: JetStreamManager, stream: string, seq: number): Promise<{ seq: number; subject: string; headers: Record<string, string>; text: string; base64?: string; bytes: number } | undefined> {
  const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  if (m.header) for (const [k, v] of m.header) headers[k] = v[0] ?? '';
  const text = new TextDecoder('utf-8', { fatal: false }).decode(m.data);
  const binary = text.includes('\uFFFD') || /[\x00-\x08\x0E-\x1F]/.test(text);
  return { seq: m.seq, subject: m.subject, headers, text, ...(binary ? { base64: Buffer.from(m.data).toString('base64') } : {}), bytes: m.data.length };
}
