// The dead letters and late events of a job, as the console shows them: counts by reason over what
// the stream holds, and the latest entries (headers and size, not payloads) to browse and filter.
// Each refresh reads only what was added since the last one (an ordered consumer from the next
// sequence), at most READ_PER_REFRESH messages, so a flood is caught up with over a few refreshes
// instead of in one long stall. Payloads are fetched one at a time when someone opens an entry.
import { DeliverPolicy, jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { HEADERS } from '../common/names.ts';

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
const READ_PER_REFRESH = 20_000;
const FETCH_WAIT_MS = 1_000;

export class SideOutputIndex {
  private lastSeq = 0;
  private readonly counts = new Map<string, number>();
  private entries: SideEntry[] = [];

  constructor(readonly stream: string) {}

  /** Reads what was added since the last refresh; a stream that is missing (no job yet) reads as empty. */
  async refresh(nc: NatsConnection, jsm: JetStreamManager): Promise<void> {
    let state;
    try {
      state = (await jsm.streams.info(this.stream)).state;
    } catch {
      return;
    }
    // Limits removed old messages: they leave the counts too, which must describe what is stored.
    if (state.first_seq > this.lastSeq + 1 && this.lastSeq > 0) this.rebuildFrom(state.first_seq);
    if (state.last_seq <= this.lastSeq) return;
    const from = Math.max(this.lastSeq + 1, state.first_seq, state.last_seq - READ_PER_REFRESH + 1);
    // Fetches end after FETCH_WAIT_MS even when nothing comes: a dead letter overwritten by a replay
    // leaves a gap, and the range's last sequence may be gone by the time it is read.
    const consumer = await jetstream(nc).consumers.get(this.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
    let read = 0;
    while (read < READ_PER_REFRESH) {
      const batch = await consumer.fetch({ max_messages: 1_000, expires: FETCH_WAIT_MS });
      let got = 0;
      for await (const m of batch) {
        got++;
        const header = (name: string) => m.headers?.get(name) || undefined;
        const entry: SideEntry = {
          seq: m.seq,
          subject: m.subject,
          reason: header(HEADERS.reason) ?? 'unknown',
          message: header(HEADERS.message) ?? '',
          partition: header(HEADERS.partition) ?? m.subject.split('.')[3] ?? '?',
          at: Math.floor(m.info.timestampNanos / 1e6),
          bytes: m.data.length,
        };
        this.counts.set(entry.reason, (this.counts.get(entry.reason) ?? 0) + 1);
        this.entries.push(entry);
        this.lastSeq = m.seq;
        if (m.info.pending === 0) break;
      }
      read += got;
      if (got === 0 || this.lastSeq >= state.last_seq) break;
    }
    this.lastSeq = Math.max(this.lastSeq, state.last_seq);
    if (this.entries.length > KEEP_ENTRIES) this.entries = this.entries.slice(-KEEP_ENTRIES);
  }

  private rebuildFrom(first: number): void {
    const gone = this.entries.filter((e) => e.seq < first);
    for (const e of gone) this.counts.set(e.reason, Math.max(0, (this.counts.get(e.reason) ?? 0) - 1));
    this.entries = this.entries.filter((e) => e.seq >= first);
  }

  byReason(): Record<string, number> {
    return Object.fromEntries([...this.counts].filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : 1)));
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
