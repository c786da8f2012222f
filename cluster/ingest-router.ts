// Lets any producer publish plain JSON to `shardflow.ingest.<job>` without knowing the partitions. The
// router of a job reads the ingest stream in order from its last recorded position, finds each
// event's partition from its key (undecodable events go by a hash of their bytes, to be dead-lettered
// there), and republishes it to that partition with the ingest sequence as message id. It records its
// position in the checkpoints bucket under a fenced lease, like a partition: after a crash it resumes
// from there, republished copies are stored once, and the order of the ingest stream is kept.
// It runs as an actor on the worker that owns partition 0 of the job.
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { ActorContext, Behavior } from '../actors/index.ts';
import { isShardflowError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { ingestStream, partitionSubject, ROUTER_PARTITION } from '../common/names.ts';
import { fnv1a32, partitionOf } from '../common/partition.ts';
import type { Job } from '../jobs/define-job.ts';
import { decodeEvent } from '../jobs/event-decoder.ts';
import type { KvCheckpointStore, PartitionLease } from './checkpoint-store.ts';
import { feedStream, type PartitionFeed } from './partition-feed.ts';
import type { PartitionSlot } from './partition-actor.ts';
import type { RouterMessage } from './protocol.ts';

export interface RouterEnv {
  readonly js: JetStreamClient;
  readonly store: KvCheckpointStore;
  readonly workerId: string;
  readonly log: Logger;
  /** ms between records of the router's position. */
  readonly checkpointIntervalMs: number;
  readonly onFenced: (job: string) => void;
}

const EMPTY = new Uint8Array(0);
let generations = 0;

export class IngestRouterActor implements Behavior<RouterMessage> {
  private lease: PartitionLease | undefined;
  private feed: PartitionFeed | undefined;
  private generation = 0;
  private lastSeq = 0;
  private lastCheckpointAt = Date.now();
  private fenced = false;
  private readonly log: Logger;

  constructor(
    private readonly job: Job<unknown>,
    private readonly env: RouterEnv,
    private readonly slot: PartitionSlot,
  ) {
    this.log = env.log.child({ job: job.name, router: true });
  }

  async preStart(ctx: ActorContext<RouterMessage>): Promise<void> {
    let seq: number;
    try {
      if (this.slot.lease) {
        seq = (await this.env.store.resume(this.slot.lease)).seq;
      } else {
        const { lease, checkpoint } = await this.env.store.claim(this.job.name, ROUTER_PARTITION, this.env.workerId);
        this.slot.lease = lease;
        seq = checkpoint.seq;
      }
    } catch (err) {
      if (!isShardflowError(err, 'PARTITION_FENCED')) throw err;
      this.onFenced(err);
      return;
    }
    this.lease = this.slot.lease;
    this.lastSeq = seq;
    const generation = ++generations;
    this.generation = generation;
    this.feed = await feedStream(
      this.env.js,
      ingestStream(this.job.name),
      undefined,
      seq + 1,
      (messages) => ctx.self.send({ type: 'batch', generation, messages }),
      (error) => ctx.self.tell({ type: 'feed-failed', generation, error }),
    );
    this.log.info({ epoch: this.lease!.epoch, fromSeq: seq + 1 }, 'ingest router started');
  }

  async receive(message: RouterMessage): Promise<void> {
    if (this.fenced) {
      if (message.type === 'checkpoint') message.replyTo.fail(new Error(`the ingest router of ${this.job.name} was taken over`));
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
        message.replyTo.reply(this.lastSeq);
      } else if (message.type === 'batch') {
        if (message.generation === this.generation) await this.route(message.messages);
      } else if (message.type === 'tick') {
        if (this.lease && this.lastSeq !== this.lease.entry.seq && Date.now() - this.lastCheckpointAt >= this.env.checkpointIntervalMs) await this.record();
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

  private async route(batch: JsMsg[]): Promise<void> {
    const copies: Promise<unknown>[] = [];
    for (const m of batch) {
      if (m.seq <= this.lastSeq) continue;
      const decoded = decodeEvent(this.job, m.data, Math.floor(m.info.timestampNanos / 1e6));
      const partition = decoded.ok ? partitionOf(decoded.key, this.job.partitions) : fnv1a32(m.string()) % this.job.partitions;
      copies.push(this.env.js.publish(partitionSubject(this.job.name, partition), m.data, { msgID: `ingest-${m.seq}` }));
      this.lastSeq = m.seq;
    }
    await Promise.all(copies);
    if (Date.now() - this.lastCheckpointAt >= this.env.checkpointIntervalMs) await this.record();
  }

  private async record(): Promise<void> {
    await this.env.store.commit(this.lease!, this.lastSeq, EMPTY);
    this.lastCheckpointAt = Date.now();
  }

  private onFenced(err: Error): void {
    this.fenced = true;
    this.feed?.stop();
    this.log.warn({ err: err.message }, 'ingest router taken over by another worker: stopped');
    this.env.onFenced(this.job.name);
  }
}
