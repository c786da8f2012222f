// Publishes a job's raw JSON events to its partitions: the partition comes from the event's key (the
// job's own key function), every publish is acknowledged by JetStream, and carries a message id so a
// retried publish is stored once. Events whose key cannot be read still go in (to the partition of a
// hash of their bytes) so the worker dead-letters them with the reason. A publish that fails (a NATS
// node lost, a stream leader being elected) is retried with backoff under the same message id, so
// it is stored once however often it is tried; only after `retryForMs` does the error surface.
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { ShardflowError } from '../common/errors.ts';
import { metrics } from '../common/metrics.ts';
import type { Random } from '../common/random.ts';
import { partitionOf, fnv1a32 } from '../common/partition.ts';
import { partitionSubject } from '../common/names.ts';
import type { Job } from '../jobs/define-job.ts';
import { decodeEvent } from '../jobs/event-decoder.ts';

export interface ProducerOptions {
  /** Prefix of message ids; the n-th event gets `<id>-<n>`. Same id and n: stored once. */
  producerId: string;
  /** Publishes awaiting their acknowledgement at once. */
  maxInFlight?: number;
  /** How long a failing publish is retried before its error is thrown (default 60 s). At most 100 s:
   *  the input streams store a message id once within 2 minutes, and a retry must stay inside them. */
  retryForMs?: number;
}

const MAX_RETRY_MS = 100_000;

export class JobProducer<E> {
  private readonly labels: { job: string };
  private readonly inFlight: Promise<PubAck>[] = [];
  private next = 0;
  published = 0;
  duplicates = 0;
  /** Publish attempts that failed and were tried again. */
  retries = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly job: Job<E>,
    private readonly options: ProducerOptions,
  ) {
    this.labels = { job: job.name };
    if ((options.retryForMs ?? 0) > MAX_RETRY_MS) {
      throw new ShardflowError('CONFIG_INVALID', `retryForMs may be at most ${MAX_RETRY_MS} ms: a retry after the streams' 2-minute duplicate window could store an event twice`);
    }
  }

  /** The partition an event goes to. */
  partitionOf(raw: string): number {
    const decoded = decodeEvent(this.job, raw, Date.now());
    return decoded.ok ? partitionOf(decoded.key, this.job.partitions) : fnv1a32(raw) % this.job.partitions;
  }

  /** Publishes one raw event; resolves when it may be followed (not necessarily acknowledged yet). */
  async publish(raw: string, msgId = `${this.options.producerId}-${this.next++}`): Promise<void> {
    const subject = partitionSubject(this.job.name, this.partitionOf(raw));
    const ack = this.publishRetrying(subject, raw, msgId);
    // Its failure is thrown by settle(); until then it must not count as unhandled.
    ack.catch(() => {});
    this.inFlight.push(ack);
    if (this.inFlight.length >= (this.options.maxInFlight ?? 256)) await this.settle(this.inFlight.length / 2);
  }

  private async publishRetrying(subject: string, raw: string, msgID: string): Promise<PubAck> {
    const deadline = Date.now() + (this.options.retryForMs ?? 60_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.js.publish(subject, raw, { msgID, timeout: 5_000 });
      } catch (err) {
        if (Date.now() > deadline) throw err;
        this.retries++;
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
      }
    }
  }

  /** Waits until every publish so far is acknowledged. */
  async flush(): Promise<void> {
    await this.settle(this.inFlight.length);
  }

  private async settle(count: number): Promise<void> {
    const done = this.inFlight.splice(0, Math.ceil(count));
    for (const ack of await Promise.all(done)) {
      this.published++;
      if (ack.duplicate) this.duplicates++;
      else metrics.eventsProduced.inc(this.labels);
    }
  }
}

function generatorOf<E>(job: Job<E>): NonNullable<Job<E>['generate']> {
  if (!job.generate) throw new ShardflowError('CONFIG_INVALID', `job ${job.name} has no generator; publish your own events instead`);
  return job.generate;
}

/**
 * Publishes a job's generated events live, at `rate` per second with event time = now, until `stop()`
 * says so: a running system's input (the local cluster's producer, `produce --live`).
 */
export async function produceLive<E>(producer: JobProducer<E>, job: Job<E>, rate: number, random: Random, stop: () => boolean): Promise<number> {
  const generate = generatorOf(job);
  const began = Date.now();
  let i = 0;
  for (; !stop(); i++) {
    const wait = began + (i * 1000) / rate - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // Generators space events 50 ms apart in event time; anchor each one so that it is now.
    await producer.publish(generate(random, i, Date.now() - i * 50));
  }
  await producer.flush();
  return i;
}

/** Publishes `count` generated events at once, spread evenly over the `spanMs` of event time that
 *  ends now: the recent past of a live input. */
export async function produceHistory<E>(producer: JobProducer<E>, job: Job<E>, count: number, spanMs: number, random: Random): Promise<void> {
  const generate = generatorOf(job);
  const from = Date.now() - spanMs;
  for (let i = 0; i < count; i++) {
    // Generators space events 50 ms apart in event time; anchor each one at its place in the span.
    await producer.publish(generate(random, i, from + (i * spanMs) / count - i * 50));
  }
  await producer.flush();
}
