// The pure part of an ingest router shard: which of the ingest stream's events go to which of its
// partitions, grouped into batch messages, and which bad events it dead-letters. A job has R router
// shards; shard r routes the events whose partition p has p mod R = r, and dead-letters the bad
// events whose ingest sequence s has s mod R = r (a bad event has no key, hence no partition). Every
// shard reads the whole ingest stream, in order, so each partition receives its events in ingest
// order. Decoding here is what finds the key; bad events never reach a partition.
import type { RouterId } from '../common/names.ts';
import { partitionOf } from '../common/partition.ts';
import type { Job } from '../jobs/define-job.ts';
import { decodeEvent, jsonPayload, type PayloadDecoder } from '../jobs/event-decoder.ts';
import type { Effect, EventPosition } from './effects.ts';

/** One message of the ingest stream. */
export interface IngestRecord {
  readonly seq: number;
  readonly ingestTime: number;
  readonly data: Uint8Array;
}

/** Events for one partition, in ingest order, to publish as one message. */
export interface RoutedMessage {
  readonly partition: number;
  readonly events: Uint8Array[];
  /** Ingest position of the last event in it: written as a header, so a restarted router knows what
   *  each partition already holds. */
  readonly last: EventPosition;
}

export type RouterDeadLetter = Extract<Effect, { type: 'dead-letter' }>;

export interface RoutingLimits {
  /** Most events in one routed message. */
  maxEvents: number;
  /** Most bytes of events in one routed message (below the server's max payload, with room for the framing). */
  maxBytes: number;
}

export class IngestRouting<E> {
  /** Per partition of this shard: the ingest position of the last event it already holds. */
  private readonly holds = new Map<number, EventPosition>();

  constructor(
    private readonly job: Job<E>,
    readonly router: RouterId,
    private readonly limits: RoutingLimits,
    private readonly payload: PayloadDecoder = jsonPayload,
  ) {}

  /** Partitions this shard routes to. */
  partitions(): number[] {
    const out: number[] = [];
    for (let p = this.router.router; p < this.job.partitions; p += this.job.routers) out.push(p);
    return out;
  }

  /** Tells the router what partition `p` already holds (from the last routed message stored there). */
  holdsUpTo(partition: number, position: EventPosition): void {
    const before = this.holds.get(partition);
    if (!before || after(position, before)) this.holds.set(partition, position);
  }

  route(records: readonly IngestRecord[]): { messages: RoutedMessage[]; deadLetters: RouterDeadLetter[] } {
    const { partitions, routers } = this.job;
    const mine = this.router.router;
    const open = new Map<number, { events: Uint8Array[]; bytes: number; last: EventPosition }>();
    const messages: RoutedMessage[] = [];
    const deadLetters: RouterDeadLetter[] = [];
    const close = (p: number) => {
      const m = open.get(p);
      if (!m) return;
      messages.push({ partition: p, events: m.events, last: m.last });
      open.delete(p);
    };
    // Plain clients send one event a message: its position is (its ingest sequence, 0).
    for (const r of records) {
      const position = { seq: r.seq, index: 0 };
      const decoded = decodeEvent(this.job, r.data, r.ingestTime, this.payload);
      if (!decoded.ok) {
        if (r.seq % routers === mine) deadLetters.push({ type: 'dead-letter', position, reason: decoded.reason, message: decoded.message, data: r.data });
        continue;
      }
      const p = partitionOf(decoded.key, partitions);
      if (p % routers !== mine) continue;
      const held = this.holds.get(p);
      if (held && !after(position, held)) continue;
      let m = open.get(p);
      if (m && (m.events.length >= this.limits.maxEvents || m.bytes + r.data.byteLength > this.limits.maxBytes)) {
        close(p);
        m = undefined;
      }
      if (!m) {
        m = { events: [], bytes: 0, last: position };
        open.set(p, m);
      }
      m.events.push(r.data);
      m.bytes += r.data.byteLength + 8;
      m.last = position;
    }
    for (const p of [...open.keys()]) close(p);
    for (const m of messages) this.holds.set(m.partition, m.last);
    return { messages, deadLetters };
  }
}

function after(a: EventPosition, b: EventPosition): boolean {
  return a.seq > b.seq || (a.seq === b.seq && a.index > b.index);
}

/** The header form of an ingest position, "seq.index", and back. */
export function formatIngestPosition(p: EventPosition): string {
  return `${p.seq}.${p.index}`;
}

export function parseIngestPosition(text: string | undefined): EventPosition | undefined {
  const match = text === undefined ? null : /^(\d+)\.(\d+)$/.exec(text);
  return match ? { seq: Number(match[1]), index: Number(match[2]) } : undefined;
}
