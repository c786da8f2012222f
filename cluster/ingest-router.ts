// Lets any producer publish plain JSON to `shardflow.ingest.<job>` without knowing the partitions.
// A job has R router shards (source.routers); shard r runs on the owner of partition r. Each reads the
// ingest stream in order from its recorded position, decodes every event to find its key, publishes
// the events of its partitions (p mod R = r) to their `.routed` subjects in batches, and dead-letters
// the bad events whose sequence is its own (s mod R = r). The pure part is task/routing.ts.
//
// Exactly once, forever (not only within a duplicate window): each routed message carries the ingest
// position of its last event, and is published on the condition that the partition's `.routed`
// subject has not changed since this router's last message there. A restarted router reads that
// position back and skips what the partition already holds; a zombie router's publish is refused,
// which tells it that it lost the shard.
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { ActorContext, Behavior } from '../actors/index.ts';
import { packEvents } from '../common/event-batch.ts';
import { isShardflowError, ShardflowError } from '../common/errors.ts';
import { cleanHeaderValue, truncateForLog } from '../common/header-value.ts';
import type { Logger } from '../common/logger.ts';
import { metrics } from '../common/metrics.ts';
import { deadLetterSubject, HEADERS, INGEST_SOURCE, ingestStream, inputStream, partitionId, partitionSubject, type RouterId } from '../common/names.ts';
import { RateLimitedLog } from '../common/rate-limited-log.ts';
import { ROUTER_RECORD_MS } from '../common/timing.ts';
import type { Job } from '../jobs/define-job.ts';
import { formatIngestPosition, IngestRouting, parseIngestPosition, type IngestRecord, type RoutedMessage, type RouterDeadLetter } from '../task/routing.ts';
import { PublishRefused, WRONG_LAST_SEQUENCE, type AsyncPublisher } from '../nats/async-publisher.ts';
import { fitPayload } from '../nats/message-size.ts';
import type { KvCheckpointStore, PartitionLease } from './checkpoint-store.ts';
import { feedStream, type FeedBatch, type FeedLimits, type PartitionFeed } from './partition-feed.ts';
import type { PartitionSlot } from './partition-actor.ts';
import type { RouterMessage } from './protocol.ts';
import { payloadDecoderFor } from '../schema/registry-reader.ts';
import type { BatchSchemas, WriterSchemaCache } from '../schema/writer-schema-cache.ts';

export interface RouterEnv {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly publisher: AsyncPublisher;
  readonly store: KvCheckpointStore;
  readonly workerId: string;
  readonly log: Logger;
  readonly feed: FeedLimits;
  /** Largest message the server takes, bytes. */
  readonly maxPayload: number;
  readonly onFenced: (id: RouterId) => void;
  /** Writer schemas of Avro jobs, from the cluster's registry (one cache per worker). */
  readonly schemas?: WriterSchemaCache;
}

/** Most events in one routed message. */
const ROUTED_BATCH_EVENTS = 256;

let generations = 0;

export function toIngestRecord(m: JsMsg): IngestRecord {
  return { seq: m.seq, ingestTime: Math.floor(m.info.timestampNanos / 1e6), data: m.data };
}

export class IngestRouterActor<E> implements Behavior<RouterMessage> {
  private lease: PartitionLease | undefined;
  private feed: PartitionFeed | undefined;
  private routing: IngestRouting<E> | undefined;
  /** Per partition of this shard: the stream sequence of the last `.routed` message there (0: none). */
  private readonly lastRoutedSeq = new Map<number, number>();
  private generation = 0;
  private position = 0;
  private recordedAt = Date.now();
  private fenced = false;
  /** Writer schemas of the batch being routed (Avro jobs). */
  private batchSchemas: BatchSchemas = new Map();
  private readonly log: Logger;
  private readonly sideLog: RateLimitedLog;

  constructor(
    private readonly job: Job<E>,
    private readonly id: RouterId,
    private readonly env: RouterEnv,
    private readonly slot: PartitionSlot,
  ) {
    this.log = env.log.child({ job: job.name, router: id.router });
    this.sideLog = new RateLimitedLog(this.log);
  }

  async preStart(ctx: ActorContext<RouterMessage>): Promise<void> {
    let seq: number;
    try {
      if (this.slot.lease) {
        seq = (await this.env.store.resume(this.slot.lease)).seq;
      } else {
        const { lease, checkpoint } = await this.env.store.claim(this.id, this.env.workerId);
        this.slot.lease = lease;
        seq = checkpoint.seq;
      }
    } catch (err) {
      if (!isShardflowError(err, 'PARTITION_FENCED')) throw err;
      this.onFenced(err);
      return;
    }
    this.lease = this.slot.lease;
    this.position = seq;
    const routing = new IngestRouting(this.job, this.id, { maxEvents: ROUTED_BATCH_EVENTS, maxBytes: Math.floor(this.env.maxPayload * 0.9) - 4_096 }, payloadDecoderFor(this.job as Job<unknown>, (id) => this.batchSchemas.get(id)));
    // What each partition already holds: a router killed after publishing but before recording its
    // position must not publish those events a second time.
    for (const p of routing.partitions()) {
      const last = await this.env.jsm.streams.getMessage(inputStream(this.job.name), { last_by_subj: partitionSubject(partitionId(this.job.name, p), 'routed') }).catch(() => null);
      this.lastRoutedSeq.set(p, last?.seq ?? 0);
      const held = parseIngestPosition(last?.header.get(HEADERS.ingestSeq) || undefined);
      if (held) routing.holdsUpTo(p, held);
    }
    this.routing = routing;
    const generation = ++generations;
    this.generation = generation;
    this.feed = await feedStream(
      this.env.js,
      ingestStream(this.job.name),
      undefined,
      seq + 1,
      this.env.feed,
      toIngestRecord,
      (batch) => ctx.self.send({ type: 'batch', generation, batch }),
      (error) => ctx.self.tell({ type: 'feed-failed', generation, error }),
    );
    this.log.info({ epoch: this.lease!.epoch, fromSeq: seq + 1, partitions: routing.partitions().length }, 'ingest router started');
  }

  async receive(message: RouterMessage): Promise<void> {
    if (this.fenced) {
      if (message.type === 'checkpoint') message.replyTo.fail(new ShardflowError('PARTITION_FENCED', `ingest router ${this.id.router} of ${this.job.name} was taken over`));
      return;
    }
    try {
      if (message.type === 'checkpoint') {
        await this.record();
        if (message.release) {
          await this.env.store.release(this.lease!);
          this.fenced = true; // released: route nothing more
          this.feed?.stop();
        }
        message.replyTo.reply(this.position);
      } else if (message.type === 'batch') {
        if (message.generation === this.generation) await this.route(message.batch);
      } else if (message.type === 'tick') {
        if (this.lease && this.position !== this.lease.entry.seq && Date.now() - this.recordedAt >= ROUTER_RECORD_MS) await this.record();
        else if (this.lease) await this.env.store.verify(this.lease);
      } else if (message.generation === this.generation) {
        throw message.error;
      }
    } catch (err) {
      if (message.type === 'checkpoint') message.replyTo.fail(err instanceof Error ? err : new Error(String(err)));
      if (!isShardflowError(err, 'PARTITION_FENCED')) throw err;
      this.onFenced(err);
    }
  }

  preRestart(): void {
    this.feed?.stop();
  }

  postStop(): void {
    this.feed?.stop();
  }

  private async route(batch: FeedBatch<IngestRecord>): Promise<void> {
    if (this.job.format === 'avro') this.batchSchemas = await this.env.schemas!.prepare(batch.records.map((r) => r.data));
    const { messages, deadLetters } = this.routing!.route(batch.records);
    const byPartition = new Map<number, RoutedMessage[]>();
    for (const m of messages) byPartition.set(m.partition, [...(byPartition.get(m.partition) ?? []), m]);
    await Promise.all([
      ...[...byPartition.values()].map(async (list) => {
        for (const m of list) await this.publishRouted(m);
      }),
      ...deadLetters.map((d) => this.deadLetter(d)),
    ]);
    const last = batch.records.at(-1);
    if (last) this.position = last.seq;
    if (Date.now() - this.recordedAt >= ROUTER_RECORD_MS) await this.record();
  }

  private async publishRouted(m: RoutedMessage): Promise<void> {
    const id = partitionId(this.job.name, m.partition);
    const subject = partitionSubject(id, 'routed');
    const headers: Record<string, string> = { [HEADERS.ingestSeq]: formatIngestPosition(m.last) };
    const expected = this.lastRoutedSeq.get(m.partition) ?? 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const ack = await this.env.publisher.publish(subject, packEvents(m.events), { headers, expectLastSubjectSequence: expected });
        this.lastRoutedSeq.set(m.partition, ack.seq);
        return;
      } catch (err) {
        if (err instanceof PublishRefused && err.code === WRONG_LAST_SEQUENCE) {
          // Either an earlier try of this very message was stored (its acknowledgement was lost), or
          // another router wrote here since: then this one has lost the shard.
          const stored = await this.env.jsm.streams.getMessage(inputStream(this.job.name), { last_by_subj: subject }).catch(() => null);
          if (stored && stored.header.get(HEADERS.ingestSeq) === headers[HEADERS.ingestSeq]) {
            this.lastRoutedSeq.set(m.partition, stored.seq);
            return;
          }
          throw new ShardflowError('PARTITION_FENCED', `ingest router ${this.id.router} of ${this.job.name}: another router wrote to partition ${m.partition} (${err.message})`, { cause: err });
        }
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  private async deadLetter(d: RouterDeadLetter): Promise<void> {
    metrics.deadLetters.inc({ job: this.job.name, reason: d.reason });
    this.sideLog.warn({ reason: d.reason, ingestSeq: d.position.seq, index: d.position.index, detail: truncateForLog(d.message) }, 'event dead-lettered by the ingest router');
    const fitted = fitPayload(d.data, this.env.maxPayload);
    await this.env.publisher.publish(deadLetterSubject(this.job.name, INGEST_SOURCE, d.position.seq, d.position.index), fitted.data, {
      headers: {
        ...fitted.headers,
        [HEADERS.reason]: d.reason,
        [HEADERS.message]: cleanHeaderValue(d.message),
        [HEADERS.partition]: INGEST_SOURCE,
        [HEADERS.sourceSeq]: String(d.position.seq),
        [HEADERS.sourceIndex]: String(d.position.index),
      },
    });
  }

  private async record(): Promise<void> {
    await this.env.store.commit(this.lease!, this.position, null);
    this.recordedAt = Date.now();
  }

  private onFenced(err: Error): void {
    this.fenced = true;
    this.feed?.stop();
    this.log.warn({ err: err.message }, 'ingest router taken over by another worker: stopped');
    this.env.onFenced(this.id);
  }
}
