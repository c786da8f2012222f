// Reads a stream (or some subjects of it) in order, from a given sequence, with an ordered (ephemeral,
// flow-controlled) consumer, and hands it over in batches of records. A batch closes at `maxBatch`
// messages, at `maxBatchBytes`, or when the reader is caught up, so quiet partitions still see each
// event at once. Delivery awaits the receiver, so a slow receiver slows the reading.
//
// Memory: the consumer asks the server for at most `window` messages ahead of the reader. The window
// is sized from the message size so that it holds about `maxBufferBytes`: the stream's average when
// reading starts, then what actually arrives. Messages much larger than the window was sized for make
// the feed start a new consumer with a smaller window at the next message. (nats.js offers a byte
// bound too, but it then pulls at most 100 messages at a time, which costs a third of the
// throughput of small messages here.)
import { DeliverPolicy, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { ShardflowError } from '../common/errors.ts';
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
  /** About what the consumer may buffer ahead of the receiver, bytes. */
  maxBufferBytes: number;
}

export const DEFAULT_FEED_LIMITS: FeedLimits = { maxBatch: 1_000, maxBatchBytes: 1024 * 1024, maxBufferBytes: 8 * 1024 * 1024 };

/** Bounds of the read-ahead window, messages: below 16 the reading stalls on round trips. */
const MIN_WINDOW = 16;
const MAX_WINDOW = 1_000;
/** Message size assumed at least (headers and framing). */
const MIN_MESSAGE_BYTES = 256;

/** Messages to read ahead for messages of `bytes` each. */
export function readAheadWindow(maxBufferBytes: number, bytes: number): number {
  return Math.max(MIN_WINDOW, Math.min(MAX_WINDOW, Math.floor(maxBufferBytes / Math.max(MIN_MESSAGE_BYTES, bytes))));
}

/** A partition's log as the task reads it: events of producers and routers, and markers. (`m.info` is
 *  parsed once by nats.js, whose ordered consumer reads every message's reply subject anyway.) */
export function toInputRecord(m: JsMsg): InputRecord {
  const info = m.info;
  // The kind is the subject's last token: `.event`, `.batch`, `.routed` or `.marker` (common/names.ts).
  const subject = m.subject;
  // Their last letters differ: t, h, d, r.
  const kind = subject.charCodeAt(subject.length - 1);
  if (kind === 114 /* r: marker */) return { kind: 'marker', seq: info.streamSequence, watermark: Number(m.headers?.get(HEADERS.watermark)) };
  return { kind: 'events', seq: info.streamSequence, ingestTime: Math.floor(info.timestampNanos / 1e6), data: m.data, batch: kind !== 116 /* t: event */ };
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
  const open = async (from: number, messageBytes: number) => {
    const consumer = await js.consumers.get(stream, {
      ...(subject ? { filter_subjects: subject } : {}),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, from),
    });
    const window = readAheadWindow(limits.maxBufferBytes, messageBytes);
    return { consumer, window, messages: await consumer.consume({ max_messages: window }) };
  };
  const state = (await js.jetstreamManager(false).then((jsm) => jsm.streams.info(stream)).catch(() => undefined))?.state;
  let current = await open(fromSeq, state && state.messages > 0 ? state.bytes / state.messages : MIN_MESSAGE_BYTES);
  const pendingAtStart = (await current.consumer.info()).num_pending;
  let stopped = false;
  const done = (async () => {
    let records: R[] = [];
    let bytes = 0;
    try {
      for (;;) {
        let next: number | undefined;
        // A moving average of message sizes: when the window no longer fits the buffer, reopen.
        let average = limits.maxBufferBytes / current.window;
        for await (const m of current.messages) {
          if (stopped) break;
          records.push(toRecord(m));
          const size = m.data.byteLength;
          bytes += size;
          average += (size - average) / 32;
          const pending = m.info.pending;
          if (records.length >= limits.maxBatch || bytes >= limits.maxBatchBytes || pending === 0) {
            const batch = { records, pending };
            records = [];
            bytes = 0;
            await deliver(batch);
          }
          if (average * current.window > 2 * limits.maxBufferBytes && current.window > MIN_WINDOW) {
            next = m.seq + 1;
            break;
          }
        }
        if (next === undefined || stopped) break;
        current.messages.stop();
        if (records.length > 0) {
          await deliver({ records, pending: 1 });
          records = [];
          bytes = 0;
        }
        current = await open(next, average);
      }
      // The consumer gave up on its own (it could not be recreated while its stream failed over):
      // a feed that ends without being stopped would leave the partition silently stalled.
      if (!stopped) onError(new ShardflowError('FEED_FAILED', `the reading of ${subject ?? stream} ended unexpectedly; resuming from the last checkpoint`));
    } catch (err) {
      if (!stopped) onError(err);
    }
  })();
  return {
    pendingAtStart,
    stop() {
      stopped = true;
      current.messages.stop();
    },
    done,
  };
}
