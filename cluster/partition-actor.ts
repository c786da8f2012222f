// The actor that owns one partition of a job on a worker: a thin shell around the pure PartitionTask.
// On start it takes the partition (a new ownership epoch, or the same lease after a restart),
// restores the task from the latest checkpoint and reads the partition from the sequence after it.
// Each batch goes through the task; its effects go to PartitionOutputs, which writes them in the
// background (checkpoints only after the outputs they cover). The shell keeps what needs the outside
// world: the lease check, the stall check, writing idle markers. A restart after a failure is a
// recovery from the checkpoint, exactly as after a crash.
import type { JetStreamClient } from '@nats-io/jetstream';
import type { ActorContext, ActorRef, Behavior } from '../actors/index.ts';
import { isShardflowError, ShardflowError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { initPartitionMetrics, metrics } from '../common/metrics.ts';
import { HEADERS, inputStream, partitionSubject, type PartitionId } from '../common/names.ts';
import { RateLimitedLog } from '../common/rate-limited-log.ts';
import { LEASE_CHECK_MS, STALL_BEHIND_MS, STALL_CHECK_MS } from '../common/timing.ts';
import type { Job } from '../jobs/define-job.ts';
import { DEAD_LETTER_REASONS } from '../jobs/event-decoder.ts';
import type { Effect, InputRecord } from '../task/effects.ts';
import { PartitionTask, type StepCounts, type TaskOptions } from '../task/partition-task.ts';
import type { AsyncPublisher } from '../nats/async-publisher.ts';
import type { KvCheckpointStore, PartitionLease } from './checkpoint-store.ts';
import { PartitionOutputs } from './partition-outputs.ts';
import { feedPartition, type FeedBatch, type FeedLimits, type PartitionFeed } from './partition-feed.ts';
import type { CheckpointReport, PartitionMessage, PartitionStatsUpdate } from './protocol.ts';
import type { Sink } from './sinks/sink.ts';
import { payloadDecoderFor } from '../schema/registry-reader.ts';
import type { BatchSchemas, WriterSchemaCache } from '../schema/writer-schema-cache.ts';

/** What outlives one actor instance of a partition: the lease, so a restart resumes instead of
 *  taking the partition again. Owned by the worker, one per partition. */
export interface PartitionSlot {
  lease?: PartitionLease;
}

export interface PartitionEnv {
  readonly js: JetStreamClient;
  readonly publisher: AsyncPublisher;
  readonly store: KvCheckpointStore;
  readonly sink: Sink;
  readonly workerId: string;
  readonly log: Logger;
  readonly task: TaskOptions;
  readonly feed: FeedLimits;
  /** Largest message the server takes, bytes. */
  readonly maxPayload: number;
  /** Called when another worker took the partition over; the worker stops this actor. */
  readonly onFenced: (id: PartitionId) => void;
  /** Whether the job's ingest routers have moved everything published so far to this partition: a
   *  partition is not idle while they still have a backlog for it. */
  readonly upstreamCaughtUp: () => Promise<boolean>;
  /** Reports the partition's figures after each batch, tick and checkpoint (for heartbeats, status
   *  and the console). */
  readonly onStats?: (update: PartitionStatsUpdate) => void;
  readonly clock?: () => number;
  /** Writer schemas of Avro jobs, from the cluster's registry (one cache per worker). */
  readonly schemas?: WriterSchemaCache;
}

let generations = 0;

export class PartitionActor<E> implements Behavior<PartitionMessage> {
  private lease: PartitionLease | undefined;
  private task: PartitionTask<E> | undefined;
  private outputs: PartitionOutputs | undefined;
  private feed: PartitionFeed | undefined;
  private generation = 0;
  private caughtUp = false;
  private fenced = false;
  private lastLeaseCheckAt = 0;
  private lastStallCheckAt = 0;
  /** Where the task stood when a stalled feed was last reopened in place. */
  private reopenedAt: number | undefined;
  private self: ActorRef<PartitionMessage> | undefined;
  private reportedFirstBatch = false;
  /** Writer schemas of the batch being decoded (Avro jobs). */
  private batchSchemas: BatchSchemas = new Map();
  private lastReport: CheckpointReport | undefined;
  private readonly log: Logger;
  private readonly sideLog: RateLimitedLog;
  private readonly now: () => number;
  private readonly labels: { job: string; partition: string };

  constructor(
    private readonly job: Job<E>,
    private readonly id: PartitionId,
    private readonly env: PartitionEnv,
    private readonly slot: PartitionSlot,
  ) {
    this.now = env.clock ?? Date.now;
    this.log = env.log.child({ job: job.name, partition: id.index });
    this.sideLog = new RateLimitedLog(this.log);
    this.labels = { job: job.name, partition: String(id.index) };
    initPartitionMetrics(this.labels, DEAD_LETTER_REASONS);
  }

  async preStart(ctx: ActorContext<PartitionMessage>): Promise<void> {
    let checkpoint;
    if (this.slot.lease) {
      try {
        checkpoint = await this.env.store.resume(this.slot.lease);
      } catch (err) {
        if (!isShardflowError(err, 'PARTITION_FENCED')) throw err;
        this.onFenced(err);
        return;
      }
    } else {
      const claimed = await this.env.store.claim(this.id, this.env.workerId);
      this.slot.lease = claimed.lease;
      checkpoint = claimed.checkpoint;
    }
    const lease = this.slot.lease;
    this.lease = lease;
    this.task = new PartitionTask(this.job, this.id, this.env.task, checkpoint, this.now(), payloadDecoderFor(this.job as Job<unknown>, (id) => this.batchSchemas.get(id)));
    this.outputs = new PartitionOutputs({
      id: this.id,
      publisher: this.env.publisher,
      sink: this.env.sink,
      store: this.env.store,
      lease,
      maxPayload: this.env.maxPayload,
      log: this.sideLog,
      onCheckpoint: (seq, stored, bytes, ms) => this.onCheckpoint(seq, stored, bytes, ms),
    });
    this.self = ctx.self;
    await this.openFeed(checkpoint.seq + 1);
    this.log.info({ epoch: lease.epoch, fromSeq: checkpoint.seq + 1, restoredBytes: checkpoint.snapshot?.byteLength ?? 0 }, 'partition started');
  }

  /** Reads the partition's log from `fromSeq` with a new feed; batches of an earlier feed still
   *  queued are ignored (their generation is over). */
  private async openFeed(fromSeq: number): Promise<void> {
    this.feed?.stop();
    const self = this.self!;
    const generation = ++generations;
    this.generation = generation;
    this.feed = await feedPartition(
      this.env.js,
      this.id,
      fromSeq,
      this.env.feed,
      (batch) => self.send({ type: 'batch', generation, batch }),
      (error) => self.tell({ type: 'feed-failed', generation, error }),
    );
    // A partition restored at the end of its log gets no batch: it is caught up from the start.
    this.caughtUp = this.feed.pendingAtStart === 0;
  }

  async receive(message: PartitionMessage): Promise<void> {
    if (this.fenced) {
      if (message.type === 'checkpoint') message.replyTo.fail(new ShardflowError('PARTITION_FENCED', `partition ${this.job.name}/${this.id.index} was taken over`));
      return;
    }
    try {
      switch (message.type) {
        case 'batch':
          if (message.generation === this.generation) await this.onBatch(message.batch);
          return;
        case 'tick':
          await this.onTick();
          return;
        case 'checkpoint': {
          const report = await this.checkpointNow();
          if (message.release) {
            await this.env.store.release(this.lease!);
            // Released: nothing more may be read or written here, not even a batch already queued.
            this.fenced = true;
            this.stopIo();
          }
          message.replyTo.reply(report);
          return;
        }
        case 'feed-failed':
          if (message.generation === this.generation) throw message.error;
          return;
      }
    } catch (err) {
      if (message.type === 'checkpoint') message.replyTo.fail(err instanceof Error ? err : new Error(String(err)));
      if (!isShardflowError(err, 'PARTITION_FENCED')) throw err;
      this.onFenced(err);
    }
  }

  preRestart(): void {
    this.stopIo();
  }

  postStop(): void {
    this.stopIo();
  }

  private stopIo(): void {
    this.feed?.stop();
    this.outputs?.close();
  }

  /** Another worker owns the partition now: stop reading and writing; the worker stops this actor. */
  private onFenced(err: Error): void {
    this.fenced = true;
    this.stopIo();
    metrics.fenced.inc({ job: this.job.name });
    this.log.warn({ err: err.message }, 'partition taken over by another worker: stopped, nothing written');
    this.env.onFenced(this.id);
  }

  private async onBatch(batch: FeedBatch<InputRecord>): Promise<void> {
    const outputs = this.outputs!;
    await outputs.ready();
    // The task is pure: the schemas this batch names are fetched first. A registry that cannot be
    // asked fails the partition, which resumes from its checkpoint (no event is judged unknown for it).
    if (this.job.format === 'avro') this.batchSchemas = await this.env.schemas!.prepareRecords(batch.records);
    const { effects, counts } = this.task!.step(batch.records, this.now());
    outputs.run(effects);
    this.caughtUp = batch.pending === 0;
    this.record(counts);
    metrics.consumerLag.set(this.labels, batch.pending);
    this.env.onStats?.({ lag: batch.pending });
    if (!this.reportedFirstBatch && batch.records.length > 0) {
      this.reportedFirstBatch = true;
      this.log.info({ epoch: this.lease?.epoch, seq: batch.records.at(-1)!.seq, at: Date.now() }, 'first batch processed');
    }
  }

  private async onTick(): Promise<void> {
    const now = this.now();
    if (now - this.lastLeaseCheckAt >= LEASE_CHECK_MS) {
      // A worker that was paused or cut off learns here that it lost the partition, before writing.
      this.lastLeaseCheckAt = now;
      await this.env.store.verify(this.lease!);
    }
    if (this.outputs!.failed) throw this.outputs!.failed;
    await this.checkStalled(now);
    const { effects, counts } = this.task!.tick(now, this.caughtUp);
    this.outputs!.run(effects);
    this.record(counts);
    for (const e of effects) if (e.type === 'idle-marker') await this.writeIdleMarker(e);
  }

  private record(counts: StepCounts): void {
    const task = this.task!;
    const events = counts.processed + counts.deadLettered + counts.late;
    if (events > 0) metrics.eventsIn.inc(this.labels, events);
    if (counts.processed > 0) metrics.eventsProcessed.inc(this.labels, counts.processed);
    if (Number.isFinite(task.watermark)) metrics.watermarkDelay.set(this.labels, (Date.now() - task.watermark) / 1000);
    metrics.partitionKeys.set(this.labels, task.keys);
    metrics.partitionOpenWindows.set(this.labels, task.openWindows);
    metrics.partitionStateBytes.set(this.labels, task.stateBytes);
    this.env.onStats?.({ processed: counts.processed, watermark: Number.isFinite(task.watermark) ? task.watermark : null, keys: task.keys, windows: task.openWindows });
  }

  private onCheckpoint(seq: number, stored: boolean, bytes: number, ms: number): void {
    if (!this.task) return;
    if (stored) {
      this.task.checkpointStored(seq);
      metrics.checkpointBytes.set(this.labels, bytes);
      metrics.checkpointDuration.observe({ job: this.job.name }, ms / 1000);
      this.lastReport = { job: this.job.name, partition: this.id.index, seq, bytes, ms };
      this.env.onStats?.({ checkpointAt: Date.now(), checkpointBytes: bytes });
    } else {
      this.task.checkpointFailed();
    }
  }

  /** A checkpoint of everything processed so far, stored before this returns. */
  private async checkpointNow(): Promise<CheckpointReport> {
    const task = this.task!;
    const outputs = this.outputs!;
    await outputs.drain();
    if (task.checkpointedUpTo === task.processedUpTo && this.lastReport) return this.lastReport;
    const effect = task.checkpointNow(this.now());
    await outputs.checkpoint(effect);
    if (task.checkpointedUpTo < effect.seq) throw new ShardflowError('CHECKPOINT_FAILED', `the checkpoint of ${this.job.name}/${this.id.index} at ${effect.seq} could not be stored`);
    return this.lastReport!;
  }

  /**
   * A consumer whose NATS node died can stop delivering without an error (seen when a node of a
   * 3-node cluster is killed). A quiet partition therefore asks now and then for the last message
   * stored on its subjects; if that is newer than what it processed, the feed is stalled. It is first
   * reopened in place after the last processed message (a consumer can also stall on a loaded machine
   * while its connection is cut as a slow consumer, and the state in memory is good); a feed that
   * stalls again without progress fails the partition, which restarts from its checkpoint.
   */
  private async checkStalled(now: number): Promise<void> {
    const task = this.task!;
    const quietFor = now - task.quietSince;
    if (quietFor < (this.caughtUp ? STALL_CHECK_MS : STALL_BEHIND_MS) || now - this.lastStallCheckAt < STALL_CHECK_MS) return;
    this.lastStallCheckAt = now;
    const stored = await this.latestStored();
    if (stored !== undefined && stored > task.processedUpTo) {
      if (this.reopenedAt !== task.processedUpTo) {
        this.reopenedAt = task.processedUpTo;
        this.log.warn({ stored, processedUpTo: task.processedUpTo, quietMs: quietFor }, 'partition feed stalled: reading again after the last processed message');
        metrics.feedReopened.inc({ job: this.job.name });
        await this.openFeed(task.processedUpTo + 1);
        return;
      }
      throw new ShardflowError('FEED_FAILED', `partition feed stalled: the log holds messages up to ${stored} but nothing after ${task.processedUpTo} arrived for ${quietFor} ms`);
    }
  }

  /** The sequence of the last event stored in the partition, undefined when it cannot be known now. */
  private async latestStored(): Promise<number | undefined> {
    try {
      const jsm = await this.env.js.jetstreamManager(false);
      const last = async (kind: 'event' | 'routed') =>
        (await jsm.streams.getMessage(inputStream(this.job.name), { last_by_subj: partitionSubject(this.id, kind) }).catch((err: unknown) => {
          if (/no message found/i.test(String((err as Error).message))) return null;
          throw err;
        }))?.seq ?? 0;
      const [events, routed] = await Promise.all([last('event'), last('routed')]);
      return Math.max(events, routed);
    } catch {
      return undefined; // no answer (NATS failing over): nothing to conclude
    }
  }

  /**
   * Writes the watermark marker the task proposed, unless events arrived after the position it was
   * proposed at or the routers still hold events for this partition. Because the marker is in the
   * log, every replay meets it at the same position. The message id makes a retried write land once.
   */
  private async writeIdleMarker(e: Extract<Effect, { type: 'idle-marker' }>): Promise<void> {
    const task = this.task!;
    const stored = await this.latestStored();
    if (stored === undefined || stored > e.afterSeq || !(await this.env.upstreamCaughtUp().catch(() => false))) {
      task.idleMarkerNotWritten();
      return;
    }
    try {
      await this.env.publisher.publish(partitionSubject(this.id, 'marker'), new Uint8Array(0), {
        headers: { [HEADERS.watermark]: String(e.watermark) },
        msgId: `${this.job.name}-${this.id.index}-idle-${e.afterSeq}`,
      });
      this.log.debug({ watermark: e.watermark, afterSeq: e.afterSeq }, 'idle partition: watermark marker written');
    } catch (err) {
      task.idleMarkerNotWritten();
      this.log.debug({ err: (err as Error).message }, 'watermark marker not written');
    }
  }
}
