// How to read a job's partitioned input log from outside the workers (the chaos oracle and monitor,
// compaction, the test oracles): which partition a message belongs to, whether it is a watermark
// marker, and the events it holds (one, or a batch). The workers' own reading is task/partition-task.ts.
import { eventsOf } from './event-batch.ts';
import { HEADERS, parseInputSubject } from './names.ts';

/** The parts of a stored message this needs (batch/stream-range.ts's StreamMessage has them). */
export interface LoggedMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  header(name: string): string | undefined;
}

export type InputLogEntry =
  | { readonly kind: 'marker'; readonly partition: number; readonly seq: number; readonly watermark: number }
  /** `events` is undefined for a batch whose body is not one (dead-lettered whole as
   *  `malformed-batch`, at index 0). */
  | { readonly kind: 'events'; readonly partition: number; readonly seq: number; readonly events: Uint8Array[] | undefined };

/** The entry of a message of `job`'s input stream; undefined for a subject of another job. */
export function readInputEntry(job: string, m: LoggedMessage): InputLogEntry | undefined {
  const where = parseInputSubject(job, m.subject);
  if (!where) return undefined;
  if (where.kind === 'marker') return { kind: 'marker', partition: where.partition, seq: m.seq, watermark: Number(m.header(HEADERS.watermark)) };
  return { kind: 'events', partition: where.partition, seq: m.seq, events: eventsOf(m.data, where.kind !== 'event') };
}

/** "seq.index": how side outputs and oracles name an event's position. */
export function positionKey(seq: number, index: number): string {
  return `${seq}.${index}`;
}
