// The actor that owns one partition of a job on a worker. On start it takes the partition (a new
// ownership epoch), restores the window operator from the latest checkpoint and reads the partition
// from the sequence after it. Each batch goes through decoding and the window operator; results go
// to the sink, dead letters and late events to their side outputs, all awaited before the next batch.
// A checkpoint (operator snapshot + the sequence it covers) is stored every interval or N events,
// always after the outputs it covers are durable. A restart after a failure is a recovery from the
// checkpoint, exactly as after a crash.
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { ActorContext, Behavior } from '../actors/index.ts';
import { isShardflowError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { initPartitionMetrics, metrics } from '../common/metrics.ts';
import { deadLetterSubject, HEADERS, inputStream, lateSubject, partitionSubject } from '../common/names.ts';
import type { EngineRecord } from '../engine/records.ts';
import { WindowOperator } from '../engine/window-operator.ts';
import type { Job } from '../jobs/define-job.ts';
import { DEAD_LETTER_REASONS, decodeEvent } from '../jobs/event-decoder.ts';
import type { Checkpoint, KvCheckpointStore, PartitionLease } from './checkpoint-store.ts';
import { feedPartition, type PartitionFeed } from './partition-feed.ts';
import type { CheckpointReport, PartitionMessage } from './protocol.ts';
import type { Sink, SinkWrite } from './sinks/sink.ts';

/** What outlives one actor instance of a partition: the lease, so a restart resumes instead of
 *  taking the partition again. Owned by the worker, one per partition. */
export interface PartitionSlot {
  lease?: PartitionLease;
}

export interface PartitionEnv {
  readonly js: JetStreamClient;
  readonly store: KvCheckpointStore;
  readonly sink: Sink;
  readonly workerId: string;
  readonly log: Logger;
  /** ms between checkpoints. */
  readonly checkpointIntervalMs: number;
  /** Events after which a checkpoint is taken even before the interval. */
  readonly checkpointEveryEvents: number;
  /** Called when another worker took the partition over; the worker stops this actor. */
  readonly onFenced: (job: string, partition: number) => void;
  /** Whether everything published to the job's ingest subject has reached the partitions: a
   *  partition is not idle while the router still has a backlog for it. */
  readonly upstreamCaughtUp: () => Promise<boolean>;
  /** Reports the partition's unprocessed messages after each batch (for heartbeats and status). */
  readonly onLag?: (lag: number) => void;
  readonly clock?: () => number;
}

let generations = 0;

/** ms between checks that this worker still owns the partition. */
const LEASE_CHECK_MS = 1_000;
/** A caught-up partition that received nothing for this long checks that its log has nothing newer. */
const STALL_CHECK_MS = 3_000;
/** The same for a partition still working through a backlog (its first batch after a restore of a
 *  large state on a loaded machine can take seconds; that is not a stall). */
const STALL_BEHIND_MS = 30_000;

export class PartitionActor<E> implements Behavior<PartitionMessage> {
  private lease: PartitionLease | undefined;
  private operator: WindowOperator<E> | undefined;
  private feed: PartitionFeed | undefined;
  private generation = 0;
  private lastSeq = 0;
  private currentSeq = 0;
  private caughtUp = false;
  private lastMessageAt: number;
  private markerAfterSeq = -1;
  private eventsSinceCheckpoint = 0;
  private lastCheckpointAt: number;
  private fenced = false;
  private lastLeaseCheckAt = 0;
  private lastStallCheckAt = 0;
  private reportedFirstBatch = false;
  private writes: SinkWrite[] = [];
  /** The sink batch being written while the next batch is processed (at most one). */
  private sinkInFlight: Promise<void> | undefined;
  private sideOutputs: Promise<unknown>[] = [];
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly labels: { job: string; partition: string };

  constructor(
    private readonly job: Job<E>,
    private readonly partition: number,
    private readonly env: PartitionEnv,
    private readonly slot: PartitionSlot,
  ) {
    this.now = env.clock ?? Date.now;
    this.lastMessageAt = this.now();
    this.lastCheckpointAt = this.now();
    this.log = env.log.child({ job: job.name, partition });
    this.labels = { job: job.name, partition: String(partition) };
    initPartitionMetrics(this.labels, DEAD_LETTER_REASONS);
  }

  async preStart(ctx: ActorContext<PartitionMessage>): Promise<void> {
    let lease: PartitionLease;
    let checkpoint: Checkpoint;
    if (this.slot.lease) {
      lease = this.slot.lease;
      try {
        checkpoint = await this.env.store.resume(lease);
      } catch (err) {
        if (!isShardflowError(err, 'PARTITION_FENCED')) throw err;
        this.onFenced(err);
        return;
      }
    } else {
      ({ lease, checkpoint } = await this.env.store.claim(this.job.name, this.partition, this.env.workerId));
      this.slot.lease = lease;
    }
    this.lease = lease;
    const operator = new WindowOperator<E>({
      window: this.job.window,
      aggregates: this.job.aggregates,
      maxOutOfOrderness: this.job.maxOutOfOrderness,
      allowedLateness: this.job.allowedLateness,
      emit: (r) => this.onRecord(r),
    });
    if (checkpoint.snapshot) operator.restore(checkpoint.snapshot);
    this.operator = operator;
    this.lastSeq = checkpoint.seq;
    const generation = ++generations;
    this.generation = generation;
    this.feed = await feedPartition(
      this.env.js,
      this.job.name,
      this.partition,
      checkpoint.seq + 1,
      (messages) => ctx.self.send({ type: 'batch', generation, messages }),
      (error) => ctx.self.tell({ type: 'feed-failed', generation, error }),
    );
    // A partition restored at the end of its log gets no batch: it is caught up from the start.
    this.caughtUp = this.feed.pendingAtStart === 0;
    // Quiet time counts from when the feed exists, not from before the restore.
    this.lastMessageAt = this.now();
    this.log.info({ epoch: lease.epoch, fromSeq: checkpoint.seq + 1, restoredBytes: checkpoint.snapshot?.byteLength ?? 0 }, 'partition started');
  }

  async receive(message: PartitionMessage): Promise<void> {
    if (this.fenced) {
      if (message.type === 'checkpoint') message.replyTo.fail(new Error(`partition ${this.job.name}/${this.partition} was taken over`));
      return;
    }
    try {
      switch (message.type) {
        case 'batch':
          if (message.generation === this.generation) await this.processBatch(message.messages);
          return;
        case 'tick':
          await this.onTick();
          return;
        case 'checkpoint': {
          const report = await this.checkpoint(true);
          if (message.release) {
            await this.env.store.release(this.lease!);
            // Released: nothing more may be read or written here, not even a batch already queued.
            this.fenced = true;
            this.feed?.stop();
          }
          message.replyTo.reply(report);
          return;
        }
        case 'feed-failed':
          if (message.generation === this.generation) throw message.error;
          return;
      }
    } catch (err) {
      if (!isShardflowError(err, 'PARTITION_FENCED')) {
        if (message.type === 'checkpoint') message.replyTo.fail(err instanceof Error ? err : new Error(String(err)));
        throw err;
      }
      if (message.type === 'checkpoint') message.replyTo.fail(err);
      this.onFenced(err);
    }
  }

  /** Another worker owns the partition now: stop reading and writing; the worker stops this actor. */
  private onFenced(err: Error): void {
    this.fenced = true;
    this.feed?.stop();
    metrics.fenced.inc({ job: this.job.name });
    this.log.warn({ err: err.message }, 'partition taken over by another worker: stopped, nothing written');
    this.env.onFenced(this.job.name, this.partition);
  }

  preRestart(): void {
    this.feed?.stop();
  }

  postStop(): void {
    this.feed?.stop();
  }

  private async processBatch(messages: JsMsg[]): Promise<void> {
    const operator = this.operator!;
    let processed = 0;
    for (const m of messages) {
      if (m.seq <= this.lastSeq) continue;
      this.currentSeq = m.seq;
      // Markers have an empty body; reading headers only then spares decoding them on every event.
      if (m.data.byteLength === 0 && m.headers?.get(HEADERS.control) === 'idle') {
        const watermark = Number(m.headers!.get(HEADERS.watermark));
        if (Number.isFinite(watermark)) operator.advanceWatermark(watermark);
      } else {
        const decoded = decodeEvent(this.job, m.data, Math.floor(m.info.timestampNanos / 1e6));
        if (decoded.ok) {
          operator.process(decoded.key, decoded.eventTime, decoded.event);
          processed++;
        } else {
          this.deadLetter(m, decoded.reason, decoded.message);
        }
      }
      this.lastSeq = m.seq;
      this.eventsSinceCheckpoint++;
    }
    const last = messages.at(-1);
    if (last) {
      this.caughtUp = last.info.pending === 0;
      metrics.consumerLag.set(this.labels, last.info.pending);
      this.env.onLag?.(last.info.pending);
      if (!this.reportedFirstBatch) {
        this.reportedFirstBatch = true;
        this.log.info({ epoch: this.lease?.epoch, seq: last.seq, at: Date.now() }, 'first batch processed');
      }
    }
    this.lastMessageAt = this.now();
    metrics.eventsIn.inc(this.labels, messages.length);
    metrics.eventsProcessed.inc(this.labels, processed);
    if (Number.isFinite(operator.watermark)) metrics.watermarkDelay.set(this.labels, (Date.now() - operator.watermark) / 1000);
    await this.flushOutputs(false);
    if (this.eventsSinceCheckpoint >= this.env.checkpointEveryEvents || this.now() - this.lastCheckpointAt >= this.env.checkpointIntervalMs) {
      await this.checkpoint(false);
    }
  }

  private async onTick(): Promise<void> {
    const now = this.now();
    if (now - this.lastLeaseCheckAt >= LEASE_CHECK_MS) {
      // A worker that was paused or cut off learns here that it lost the partition, before writing.
      this.lastLeaseCheckAt = now;
      await this.env.store.verify(this.lease!);
    }
    if (this.eventsSinceCheckpoint > 0 && now - this.lastCheckpointAt >= this.env.checkpointIntervalMs) await this.checkpoint(false);
    await this.checkStalled(now);
    await this.maybeMarkIdle(now);
  }

  /**
   * A consumer whose NATS node died can stop delivering without an error (seen when a node of a
   * 3-node cluster is killed). A quiet partition therefore asks now and then for the last message
   * stored on its subject; if that is newer than what it processed, the feed is stalled, and failing
   * here restarts the partition from its checkpoint with a new feed.
   */
  private async checkStalled(now: number): Promise<void> {
    const quietFor = now - this.lastMessageAt;
    if (quietFor < (this.caughtUp ? STALL_CHECK_MS : STALL_BEHIND_MS) || now - this.lastStallCheckAt < STALL_CHECK_MS) return;
    this.lastStallCheckAt = now;
    let stored: number;
    try {
      const jsm = await this.env.js.jetstreamManager(false);
      stored = (await jsm.streams.getMessage(inputStream(this.job.name), { last_by_subj: partitionSubject(this.job.name, this.partition) }))?.seq ?? 0;
    } catch {
      return; // No answer (NATS failing over) or no message at all: nothing to conclude.
    }
    if (stored > this.lastSeq) {
      throw new Error(`partition feed stalled: the log holds messages up to ${stored} but nothing after ${this.lastSeq} arrived for ${quietFor} ms`);
    }
  }

  /**
   * A partition that is caught up and has been quiet for the job's idle timeout gets a watermark marker
   * written into its own log: the watermark moves to the wall clock minus the out-of-orderness bound
   * (or the latest event time, if later), so windows that ended before it fire. Because the marker is
   * in the log, every replay meets it at the same position. The publish only succeeds if nothing was
   * appended to the partition since the last message seen here.
   */
  private async maybeMarkIdle(now: number): Promise<void> {
    const operator = this.operator!;
    if (!this.caughtUp || this.lastSeq === 0 || this.markerAfterSeq === this.lastSeq) return;
    if (now - this.lastMessageAt < this.job.idleTimeout) return;
    const watermark = Math.max(operator.latestEventTime, now - this.job.maxOutOfOrderness - 1);
    if (!(watermark > operator.watermark && watermark >= operator.nextFireTime)) return;
    if (!(await this.env.upstreamCaughtUp())) return;
    this.markerAfterSeq = this.lastSeq;
    const h = natsHeaders();
    h.set(HEADERS.control, 'idle');
    h.set(HEADERS.watermark, String(watermark));
    try {
      await this.env.js.publish(partitionSubject(this.job.name, this.partition), new Uint8Array(0), {
        headers: h,
        expect: { lastSubjectSequence: this.lastSeq },
        msgID: `${this.job.name}-${this.partition}-idle-${this.lastSeq}`,
      });
      this.log.debug({ watermark, afterSeq: this.lastSeq }, 'idle partition: watermark marker written');
    } catch (err) {
      // New events arrived in between: the partition is not idle after all.
      this.log.debug({ err: (err as Error).message }, 'watermark marker not written');
    }
  }

  private onRecord(r: EngineRecord<E>): void {
    if (r.type === 'result') {
      this.writes.push({ op: 'upsert', row: { job: this.job.name, key: r.key, window_start: r.start, window_end: r.end, ...r.values, revision: r.revision } });
    } else if (r.type === 'retract') {
      this.writes.push({ op: 'delete', job: this.job.name, key: r.key, window_start: r.start, window_end: r.end, revision: r.revision });
    } else {
      metrics.lateEvents.inc(this.labels);
      const h = natsHeaders();
      h.set(HEADERS.reason, r.reason);
      h.set(HEADERS.message, r.message);
      h.set(HEADERS.partition, String(this.partition));
      h.set(HEADERS.sourceSeq, String(this.currentSeq));
      h.set(HEADERS.watermark, String(r.watermark));
      this.log.info({ reason: r.reason, seq: this.currentSeq, key: r.key, eventTime: r.eventTime }, 'late event to side output');
      this.sideOutputs.push(this.env.js.publish(lateSubject(this.job.name, this.partition, this.currentSeq), JSON.stringify(r.value), { headers: h }));
    }
  }

  private deadLetter(m: JsMsg, reason: string, message: string): void {
    metrics.deadLetters.inc({ job: this.job.name, reason });
    this.log.warn({ reason, seq: m.seq, detail: message }, 'event dead-lettered');
    const h = natsHeaders();
    h.set(HEADERS.reason, reason);
    h.set(HEADERS.message, message.slice(0, 1_000));
    h.set(HEADERS.partition, String(this.partition));
    h.set(HEADERS.sourceSeq, String(m.seq));
    this.sideOutputs.push(this.env.js.publish(deadLetterSubject(this.job.name, this.partition, m.seq), m.data, { headers: h }));
  }

  /**
   * Sends the results and side outputs produced so far. Results may still be in flight when this
   * returns (one sink batch at a time overlaps with processing the next batch) unless `durable`; a
   * checkpoint always waits, so it never covers a result that is not in the sink. A failed write
   * fails the actor, which then recovers from its last checkpoint and writes again.
   */
  private async flushOutputs(durable: boolean): Promise<void> {
    if (this.sideOutputs.length > 0) {
      const pending = this.sideOutputs;
      this.sideOutputs = [];
      await Promise.all(pending);
    }
    if (this.writes.length > 0) {
      if (this.sinkInFlight) await this.takeInFlight();
      const batch = this.writes;
      this.writes = [];
      const write = this.env.sink.write(batch).then(() => {
        metrics.windowResults.inc(this.labels, batch.length);
      });
      write.catch(() => {}); // surfaced by takeInFlight
      this.sinkInFlight = write;
    }
    if (durable && this.sinkInFlight) await this.takeInFlight();
  }

  private async takeInFlight(): Promise<void> {
    const write = this.sinkInFlight;
    this.sinkInFlight = undefined;
    await write;
  }

  private async checkpoint(force: boolean): Promise<CheckpointReport> {
    const began = performance.now();
    await this.flushOutputs(true);
    const lease = this.lease!;
    let bytes = lease.entry.bytes;
    if (force || this.lastSeq !== lease.entry.seq) {
      const snapshot = this.operator!.snapshot();
      await this.env.store.commit(lease, this.lastSeq, snapshot);
      bytes = snapshot.byteLength;
      metrics.checkpointBytes.set(this.labels, bytes);
    }
    this.eventsSinceCheckpoint = 0;
    this.lastCheckpointAt = this.now();
    const ms = performance.now() - began;
    metrics.checkpointDuration.observe({ job: this.job.name }, ms / 1000);
    return { job: this.job.name, partition: this.partition, seq: this.lastSeq, bytes, ms };
  }
}
