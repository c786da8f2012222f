// Several raw events in one NATS message: producers that batch (JobProducer, `shardflow produce`,
// the ingest routers) pack each partition's events into one message, as Kafka producers do with
// batch.size / linger.ms. One message costs the server one store, one acknowledgement and one
// delivery whatever its size, so batches multiply what a producer and a consumer can move. The body
// is a MessagePack array of the events' original bytes, on a subject that says so (`.batch` or
// `.routed`, see common/names.ts), so a reader never has to decode headers to know. Readers of the
// input stream (partitions, the oracles, compaction) unpack with `eventsOf`.
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false, moreTypes: false });

export function packEvents(events: readonly Uint8Array[]): Uint8Array {
  return packr.pack(events);
}

/** The events of a message body: the body itself unless `batched`, else the unpacked array; undefined
 *  when a batch's body is not a non-empty MessagePack array of byte strings. */
export function eventsOf(data: Uint8Array, batched: boolean): Uint8Array[] | undefined {
  if (!batched) return [data];
  let items: unknown;
  try {
    items = packr.unpack(data);
  } catch {
    return undefined;
  }
  if (!Array.isArray(items) || items.length === 0 || !items.every((e) => e instanceof Uint8Array)) return undefined;
  return items as Uint8Array[];
}
