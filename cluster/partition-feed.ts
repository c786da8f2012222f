// Reads a stream (or one subject of it) in order, from a given sequence, with an ordered (ephemeral,
// flow-controlled) consumer, and hands it over in batches. A batch closes at `maxBatch`
// messages or when the partition is caught up, so quiet partitions still see each event at once.
// Delivery awaits the receiver: a slow receiver slows the reading (bounded memory).
import { DeliverPolicy, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { inputStream, partitionSubject } from '../common/names.ts';

export interface PartitionFeed {
  /** Messages in the partition after the start position when reading began (0: caught up). */
  readonly pendingAtStart: number;
  /** Stops reading; `done` settles once the loop has ended. */
  stop(): void;
  readonly done: Promise<void>;
}

/** One partition of a job's input stream. */
export function feedPartition(
  js: JetStreamClient,
  job: string,
  partition: number,
  fromSeq: number,
  deliver: (batch: JsMsg[]) => Promise<void>,
  onError: (err: unknown) => void,
): Promise<PartitionFeed> {
  return feedStream(js, inputStream(job), partitionSubject(job, partition), fromSeq, deliver, onError);
}

export async function feedStream(
  js: JetStreamClient,
  stream: string,
  subject: string | undefined,
  fromSeq: number,
  deliver: (batch: JsMsg[]) => Promise<void>,
  onError: (err: unknown) => void,
  maxBatch = 500,
): Promise<PartitionFeed> {
  const consumer = await js.consumers.get(stream, {
    ...(subject ? { filter_subjects: subject } : {}),
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: Math.max(1, fromSeq),
  });
  const pendingAtStart = (await consumer.info()).num_pending;
  const messages = await consumer.consume({ max_messages: 2_000 });
  let stopped = false;
  const done = (async () => {
    let batch: JsMsg[] = [];
    try {
      for await (const m of messages) {
        if (stopped) break;
        batch.push(m);
        if (batch.length >= maxBatch || m.info.pending === 0) {
          const full = batch;
          batch = [];
          await deliver(full);
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
