// Publishes a job's raw JSON events to its partitions, as fast as JetStream takes them: the partition
// comes from the event's key (the job's own key function), events bound for the same partition are
// packed into one message (up to `batchEvents`, or whatever gathered within `lingerMs`: Kafka's
// batch.size and linger.ms), and messages are sent through an asynchronous publisher with a bounded
// window of unacknowledged ones. Every message carries a message id, so a retried publish (a NATS node
// lost, a stream leader being elected) is stored once; only after `retryForMs` does the error surface.
// Events whose key cannot be read still go in (to the partition of a hash of their bytes) so the
// worker dead-letters them with the reason.
import type { NatsConnection } from '@nats-io/transport-node';
import { packEvents } from '../common/event-batch.ts';
import { ShardflowError } from '../common/errors.ts';
import { metrics } from '../common/metrics.ts';
import { partitionId, partitionSubject } from '../common/names.ts';
import { fnv1a32, partitionOf } from '../common/partition.ts';
import type { Random } from '../common/random.ts';
import type { Job } from '../jobs/define-job.ts';
import { keyOfRaw, type PayloadDecoder } from '../jobs/event-decoder.ts';
import { AsyncPublisher, type PubAck } from '../nats/async-publisher.ts';

export interface ProducerOptions {
  /** Prefix of message ids: a message holding the n-th, (n+1)-th, ... events this producer sent gets
   *  `<id>-<n>` (events are numbered in the order their messages are sent). */
  producerId: string;
  /** Most events packed into one message (1: one message per event). Default 100. */
  batchEvents?: number;
  /** ms a partly filled batch waits for more events of its partition. Default 5. */
  lingerMs?: number;
  /** Messages awaiting their acknowledgement at once. Default 1,024. */
  maxInFlight?: number;
  /** How long a failing publish is retried before its error is thrown (default 60 s). At most 100 s:
   *  the input streams store a message id once within 2 minutes, and a retry must stay inside them. */
  retryForMs?: number;
  /** Reads an event's key from its bytes: JSON by default; an Avro producer gives the decoder of the
   *  schema it writes with. */
  payload?: PayloadDecoder;
  /** Turns each raw event into the bytes published (e.g. JSON into Confluent-framed Avro); the key is
   *  read from those bytes. Default: the raw event as UTF-8. */
  encode?: (raw: string | Uint8Array) => Uint8Array;
}

const MAX_RETRY_MS = 100_000;
const encoder = new TextEncoder();

interface OpenBatch {
  readonly partition: number;
  readonly events: Uint8Array[];
  bytes: number;
}

export class JobProducer<E> {
  private readonly labels: { job: string };
  private readonly publisher: AsyncPublisher;
  private readonly open = new Map<number, OpenBatch>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly batchEvents: number;
  private readonly lingerMs: number;
  private readonly maxBatchBytes: number;
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  private failure: unknown;
  private next = 0;
  published = 0;
  duplicates = 0;
  /** Publish attempts that failed and were tried again. */
  retries = 0;
  /** Messages stored (an event count is `published`). */
  messages = 0;

  constructor(
    nc: NatsConnection,
    private readonly job: Job<E>,
    private readonly options: ProducerOptions,
  ) {
    this.labels = { job: job.name };
    if ((options.retryForMs ?? 0) > MAX_RETRY_MS) {
      throw new RangeError(`retryForMs may be at most ${MAX_RETRY_MS} ms: a retry after the streams' 2-minute duplicate window could store an event twice`);
    }
    this.batchEvents = Math.max(1, options.batchEvents ?? 100);
    this.lingerMs = options.lingerMs ?? 5;
    this.maxBatchBytes = Math.floor((nc.info?.max_payload ?? 1024 * 1024) * 0.9) - 4_096;
    this.publisher = new AsyncPublisher(nc, options.maxInFlight ?? 1_024, 5_000);
  }

  /** The partition an event goes to. */
  partitionOf(raw: string | Uint8Array): number {
    const key = keyOfRaw(this.job, raw, this.options.payload);
    return key !== undefined ? partitionOf(key, this.job.partitions) : fnv1a32(typeof raw === 'string' ? raw : new TextDecoder().decode(raw)) % this.job.partitions;
  }

  /** Adds one raw event; resolves when another may follow (not necessarily acknowledged yet). Throws
   *  the error of an earlier publish that failed for good. */
  async publish(raw: string | Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    const bytes = this.options.encode ? this.options.encode(raw) : typeof raw === 'string' ? encoder.encode(raw) : raw;
    const partition = this.partitionOf(this.options.encode ? bytes : raw);
    let batch = this.open.get(partition);
    if (batch && batch.bytes + bytes.byteLength > this.maxBatchBytes) {
      this.send(batch);
      batch = undefined;
    }
    if (!batch) {
      batch = { partition, events: [], bytes: 0 };
      this.open.set(partition, batch);
    }
    batch.events.push(bytes);
    batch.bytes += bytes.byteLength + 8;
    if (batch.events.length >= this.batchEvents) this.send(batch);
    else if (this.lingerTimer === undefined) this.lingerTimer = setTimeout(() => this.sendAll(), this.lingerMs);
    await this.publisher.ready();
  }

  /** Sends every partly filled batch and waits until everything so far is acknowledged. */
  async flush(): Promise<void> {
    this.sendAll();
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    if (this.failure) throw this.failure;
  }

  /** Stops the publisher (after flush). */
  close(): void {
    clearTimeout(this.lingerTimer);
    this.publisher.close();
  }

  private sendAll(): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    for (const batch of [...this.open.values()]) this.send(batch);
  }

  /** Sends a batch. Its events are numbered in sending order, so a message id `<id>-<n>` names the
   *  events n, n+1, ... of this producer (and a retry of the batch carries the same id). */
  private send(batch: OpenBatch): void {
    this.open.delete(batch.partition);
    const first = this.next;
    this.next += batch.events.length;
    const single = batch.events.length === 1;
    const data = single ? batch.events[0]! : packEvents(batch.events);
    const subject = partitionSubject(partitionId(this.job.name, batch.partition), single ? 'event' : 'batch');
    const done = this.publishRetrying(subject, data, `${this.options.producerId}-${first}`)
      .then((ack) => {
        const n = batch.events.length;
        this.published += n;
        this.messages++;
        if (ack.duplicate) this.duplicates += n;
        else metrics.eventsProduced.inc(this.labels, n);
      })
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }

  private async publishRetrying(subject: string, data: Uint8Array, msgId: string): Promise<PubAck> {
    const deadline = Date.now() + (this.options.retryForMs ?? 60_000);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.publisher.publish(subject, data, { msgId });
      } catch (err) {
        if (Date.now() > deadline) throw err;
        this.retries++;
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
      }
    }
  }
}

function generatorOf<E>(job: Job<E>): NonNullable<Job<E>['generate']> {
  if (!job.generate) throw new ShardflowError('JOB_INVALID', `job ${job.name} has no generator; publish your own events instead`);
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
