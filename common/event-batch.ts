// Several raw events in one NATS message: producers that batch (JobProducer, `shardflow produce`,
// the ingest routers) pack each partition's events into one message, as Kafka producers do with
// batch.size / linger.ms. One message costs the server one store, one acknowledgement and one
// delivery whatever its size, so batches multiply what a producer and a consumer can move. The body
// is a MessagePack array of the events' original bytes; the `Shardflow-Batch` header gives the count.
// Readers of the input stream (partitions, the oracles, compaction) unpack with `eventsOf`.
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false, moreTypes: false });

export function packEvents(events: readonly Uint8Array[]): Uint8Array {
  return packr.pack(events);
}

/** The events of a message body: the body itself without a batch header (`count` undefined), else the
 *  unpacked array; undefined when the body is not an array of `count` byte strings. */
export function eventsOf(data: Uint8Array, count: number | undefined): Uint8Array[] | undefined {
  if (count === undefined) return [data];
  if (!Number.isInteger(count) || count < 1) return undefined;
  let items: unknown;
  try {
    items = packr.unpack(data);
  } catch {
    return undefined;
  }
  if (!Array.isArray(items) || items.length !== count || !items.every((e) => e instanceof Uint8Array)) return undefined;
  return items as Uint8Array[];
}

/** The batch header's value as a count: undefined without one, NaN when it is not a number. */
export function batchCount(header: string | undefined): number | undefined {
  return header === undefined ? undefined : /^\d{1,6}$/.test(header) ? Number(header) : Number.NaN;
}
