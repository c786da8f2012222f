// Reads a stream (or some subjects of it) in order, from a given sequence, with an ordered (ephemeral,
// flow-controlled) consumer, and hands it over in batches of records. A batch closes at `maxBatch`
// messages, at `maxBatchBytes`, or when the reader is caught up, so quiet partitions still see each
// event at once. Delivery awaits the receiver, so a slow receiver slows the reading; with the
// consumer's own buffer bounded in bytes, a feed holds at most about maxBufferBytes + maxBatchBytes
// (+ what the receiver queues) whatever the size of the messages.
import { DeliverPolicy, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { batchCount } from '../common/event-batch.ts';
import { HEADERS, inputStream, partitionSubjects, type PartitionId } from '../common/names.ts';
import type { InputRecord } from '../task/effects.ts';

export interface PartitionFeed {
  /** Messages after the start position when reading began (0: caught up). */
  readonly pendingAtStart: number;
  /** Stops reading; `done` settles once the loop has ended. */
  stop(): void;
  readonly done: Promise<void>;
}

export interface FeedBatch<R> {
  readonly records: R[];
  /** Messages stored after the batch's last one when it was delivered (0: caught up). */
  readonly pending: number;
}

export interface FeedLimits {
  /** Most messages per batch. */
  maxBatch: number;
  /** Most bytes of message bodies per batch. */
  maxBatchBytes: number;
  /** What the consumer may buffer ahead of the receiver, bytes; at least the server's max payload. */
  maxBufferBytes: number;
}

export const DEFAULT_FEED_LIMITS: FeedLimits = { maxBatch: 1_000, maxBatchBytes: 1024 * 1024, maxBufferBytes: 4 * 1024 * 1024 };

/** A partition's log as the task reads it: events of producers and routers, and markers. */
export function toInputRecord(m: JsMsg): InputRecord {
  const ingestTime = Math.floor(m.info.timestampNanos / 1e6);
  if (m.subject.endsWith('.marker')) return { kind: 'marker', seq: m.seq, watermark: Number(m.headers?.get(HEADERS.watermark)) };
  return { kind: 'events', seq: m.seq, ingestTime, data: m.data, batch: m.headers ? batchCount(m.headers.get(HEADERS.batch) || undefined) : undefined };
}

/** One partition of a job's input stream. */
export function feedPartition(
  js: JetStreamClient,
  id: PartitionId,
  fromSeq: number,
  limits: FeedLimits,
  deliver: (batch: FeedBatch<InputRecord>) => Promise<void>,
  onError: (err: unknown) => void,
): Promise<PartitionFeed> {
  return feedStream(js, inputStream(id.job), partitionSubjects(id), fromSeq, limits, toInputRecord, deliver, onError);
}

export async function feedStream<R>(
  js: JetStreamClient,
  stream: string,
  subject: string | undefined,
  fromSeq: number,
  limits: FeedLimits,
  toRecord: (m: JsMsg) => R,
  deliver: (batch: FeedBatch<R>) => Promise<void>,
  onError: (err: unknown) => void,
): Promise<PartitionFeed> {
  const consumer = await js.consumers.get(stream, {
    ...(subject ? { filter_subjects: subject } : {}),
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: Math.max(1, fromSeq),
  });
  const pendingAtStart = (await consumer.info()).num_pending;
  const messages = await consumer.consume({ max_bytes: limits.maxBufferBytes });
  let stopped = false;
  const done = (async () => {
    let records: R[] = [];
    let bytes = 0;
    try {
      for await (const m of messages) {
        if (stopped) break;
        records.push(toRecord(m));
        bytes += m.data.byteLength;
        const pending = m.info.pending;
        if (records.length >= limits.maxBatch || bytes >= limits.maxBatchBytes || pending === 0) {
          const batch = { records, pending };
          records = [];
          bytes = 0;
          await deliver(batch);
        }
      }
      // The consumer gave up on its own (it could not be recreated while its stream failed over):
      // a feed that ends without being stopped would leave the partition silently stalled.
      if (!stopped) onError(new Error(`the reading of ${subject ?? stream} ended unexpectedly; resuming from the last checkpoint`));
    } catch (err) {
      if (!stopped) onError(err);
    }
  })();
  return {
    pendingAtStart,
    stop() {
      stopped = true;
      messages.stop();
    },
    done,
  };
}
