// One partition of a job as a pure state machine: the window operator, the position in the log it
// has processed, and the bookkeeping of checkpoints and idleness. It takes the partition's messages
// in order (step), the passing of time (tick) and the fate of its checkpoints (checkpointStored /
// checkpointFailed), and answers with effects for the shell to carry out. No I/O, no clock, no
// logger: the same log gives the same effects, however it is cut into batches and whenever it is
// restored from one of its own checkpoints (the invariants partition-task.test.ts checks).
import { eventsOf } from '../common/event-batch.ts';
import type { PartitionId } from '../common/names.ts';
import type { EngineRecord } from '../engine/records.ts';
import { WindowOperator } from '../engine/window-operator.ts';
import type { Job } from '../jobs/define-job.ts';
import { decodeEvent, jsonPayload, type PayloadDecoder } from '../jobs/event-decoder.ts';
import { partitionOf } from '../common/partition.ts';
import { CheckpointSchedule } from './checkpoint-schedule.ts';
import type { CheckpointEffect, Effect, EventPosition, InputRecord, SinkWrite } from './effects.ts';
import { IdleDetector } from './idle-detector.ts';

export interface TaskOptions {
  /** ms of processing time between checkpoints of a partition that makes progress. */
  checkpointIntervalMs: number;
  /** Messages after which a checkpoint is taken even before the interval. */
  checkpointEveryMessages: number;
}

/** What a step did, for metrics. */
export interface StepCounts {
  /** Messages of the log handled (markers included), not counting ones already covered. */
  messages: number;
  /** Events that reached the window operator. */
  processed: number;
  deadLettered: number;
  late: number;
  results: number;
}

export interface Restored {
  /** Last sequence the snapshot covers (0: nothing processed). */
  seq: number;
  snapshot: Uint8Array | null;
  /** When the server stored the checkpoint (its clock): the idle watermark's reference until the
   *  first message arrives, so that a worker with a skewed clock never writes a future watermark. */
  storedAt?: number;
}

export class PartitionTask<E> {
  private readonly operator: WindowOperator<E>;
  private readonly schedule: CheckpointSchedule;
  private readonly idle: IdleDetector;
  private position: number;
  /** Effects of the step in progress, and its writes (joined into one `write` effect). */
  private effects: Effect[] = [];
  private writes: SinkWrite[] = [];
  private counts: StepCounts = emptyCounts();
  /** Position and bytes of the event being processed (for the side outputs it may cause). */
  private currentSeq = 0;
  private currentIndex = 0;
  private currentData: Uint8Array = new Uint8Array(0);
  /** Set when the operator reported the current event as late or its aggregates as failing. */
  private eventDiverted = false;

  constructor(
    private readonly job: Job<E>,
    readonly partition: PartitionId,
    options: TaskOptions,
    restored: Restored,
    now: number,
    /** Decodes each event's bytes (JSON by default; an Avro job's decoder holds the schemas it needs,
     *  fetched by the shell before each step). */
    private readonly payload: PayloadDecoder = jsonPayload,
  ) {
    this.operator = new WindowOperator<E>({
      window: job.window,
      aggregates: job.aggregates,
      maxOutOfOrderness: job.maxOutOfOrderness,
      allowedLateness: job.allowedLateness,
      limits: { maxKeys: job.limits.maxKeys, maxOpenWindows: job.limits.maxOpenWindows, maxStateBytes: job.limits.maxStateBytes },
      emit: (r) => this.onRecord(r),
    });
    if (restored.snapshot) this.operator.restore(restored.snapshot);
    this.position = restored.seq;
    this.schedule = new CheckpointSchedule(options.checkpointIntervalMs, options.checkpointEveryMessages, restored.seq, now);
    this.idle = new IdleDetector(job.idleTimeout, job.maxOutOfOrderness, now, restored.storedAt);
  }

  /** Last sequence of the log processed. */
  get processedUpTo(): number {
    return this.position;
  }

  /** Last sequence covered by a stored checkpoint. */
  get checkpointedUpTo(): number {
    return this.schedule.stored;
  }

  get watermark(): number {
    return this.operator.watermark;
  }

  get openWindows(): number {
    return this.operator.openWindows;
  }

  get stateBytes(): number {
    return this.operator.stateBytes;
  }

  get keys(): number {
    return this.operator.keys;
  }

  /** When messages last arrived (processing time). */
  get quietSince(): number {
    return this.idle.quietSince;
  }

  /**
   * The next messages of the partition, in log order. Messages at or before the position are
   * skipped (a feed restarted from an older checkpoint, a redelivery). Returns the effects in order,
   * ending with a checkpoint when one is due.
   */
  step(records: readonly InputRecord[], now: number): { effects: Effect[]; counts: StepCounts } {
    if (records.length > 0) {
      const last = records.findLast((r) => r.kind === 'events');
      this.idle.received(now, last?.kind === 'events' ? last.ingestTime : undefined);
    }
    for (const record of records) {
      if (record.seq <= this.position) continue;
      this.currentSeq = record.seq;
      this.currentIndex = 0;
      if (record.kind === 'marker') this.operator.advanceWatermark(record.watermark);
      else if (!record.batch) this.processEvent(record.data, record.ingestTime);
      else this.processBatch(record);
      this.position = record.seq;
      this.counts.messages++;
    }
    this.schedule.progress(this.counts.messages);
    if (this.schedule.due(now)) this.takeCheckpoint(now);
    return this.finishStep();
  }

  /**
   * The passing of processing time: a checkpoint when one is due, an idle marker when the partition
   * is caught up (`caughtUp`, from the feed) and has been quiet for the job's idle timeout.
   */
  tick(now: number, caughtUp: boolean): { effects: Effect[]; counts: StepCounts } {
    if (this.schedule.due(now)) this.takeCheckpoint(now);
    const watermark = this.idle.propose({
      now,
      caughtUp,
      position: this.position,
      watermark: this.operator.watermark,
      latestEventTime: this.operator.latestEventTime,
      nextFireTime: this.operator.nextFireTime,
    });
    if (watermark !== undefined) this.effects.push({ type: 'idle-marker', afterSeq: this.position, watermark });
    return this.finishStep();
  }

  /** A checkpoint now, whatever the schedule says (graceful release, shutdown): covers the position. */
  checkpointNow(now: number): CheckpointEffect {
    this.schedule.taken(now);
    return { type: 'checkpoint', seq: this.position, snapshot: this.operator.snapshot() };
  }

  checkpointStored(seq: number): void {
    this.schedule.committed(seq);
  }

  checkpointFailed(): void {
    this.schedule.failed(1);
  }

  /** The shell did not write a proposed idle marker; propose it again later. */
  idleMarkerNotWritten(): void {
    this.idle.notWritten();
  }

  private processBatch(record: Extract<InputRecord, { kind: 'events' }>): void {
    const events = eventsOf(record.data, true);
    if (events === undefined) {
      this.currentData = record.data;
      this.deadLetter('malformed-batch', 'the message was published as a batch of events (subject .batch or .routed) but its body is not a MessagePack array of byte strings', record.data);
      return;
    }
    for (let index = 0; index < events.length; index++) {
      this.currentIndex = index;
      this.processEvent(events[index]!, record.ingestTime);
    }
  }

  private processEvent(data: Uint8Array, ingestTime: number): void {
    this.currentData = data;
    const decoded = decodeEvent(this.job, data, ingestTime, this.payload);
    if (!decoded.ok) {
      this.deadLetter(decoded.reason, decoded.message, data);
      return;
    }
    // A key belongs to one partition: an event of another partition's key (a producer that computes
    // partitions differently, with another partition count for instance) would make two partitions
    // write the same result rows.
    const owner = partitionOf(decoded.key, this.job.partitions);
    if (owner !== this.partition.index) {
      this.deadLetter('wrong-partition', `the key belongs to partition ${owner} of ${this.job.partitions}, not to ${this.partition.index}: its producer places keys differently (another partition count?)`, data);
      return;
    }
    this.eventDiverted = false;
    const refused = this.operator.process(decoded.key, decoded.eventTime, decoded.event);
    if (refused) this.deadLetter(refused.reason, refused.message, data);
    else if (!this.eventDiverted) this.counts.processed++;
  }

  private takeCheckpoint(now: number): void {
    // Results made so far come first: the checkpoint covers them.
    this.flushWrites();
    this.effects.push(this.checkpointNow(now));
  }

  private onRecord(r: EngineRecord<E>): void {
    const job = this.job.name;
    if (r.type === 'result') {
      this.writes.push({ op: 'upsert', row: { job, key: r.key, window_start: r.start, window_end: r.end, ...r.values, revision: r.revision } });
      this.counts.results++;
    } else if (r.type === 'retract') {
      this.writes.push({ op: 'delete', job, key: r.key, window_start: r.start, window_end: r.end, revision: r.revision });
      this.counts.results++;
    } else if (r.reason === 'aggregate-failed') {
      // A failing aggregate is a fault of this event, not lateness: dead-letter it with its bytes.
      this.eventDiverted = true;
      this.deadLetter('aggregate-failed', r.message, this.currentData);
    } else {
      this.eventDiverted = true;
      this.counts.late++;
      this.effects.push({ type: 'late', position: this.eventPosition(), reason: r.reason, message: r.message, key: r.key, eventTime: r.eventTime, watermark: r.watermark, value: r.value });
    }
  }

  private deadLetter(reason: Extract<Effect, { type: 'dead-letter' }>['reason'], message: string, data: Uint8Array): void {
    this.counts.deadLettered++;
    this.effects.push({ type: 'dead-letter', position: this.eventPosition(), reason, message, data });
  }

  private eventPosition(): EventPosition {
    return { seq: this.currentSeq, index: this.currentIndex };
  }

  /** The step's writes as one effect. Writes and side outputs are independent of each other; only a
   *  checkpoint must come after everything it covers. */
  private flushWrites(): void {
    if (this.writes.length === 0) return;
    this.effects.push({ type: 'write', writes: this.writes });
    this.writes = [];
  }

  private finishStep(): { effects: Effect[]; counts: StepCounts } {
    this.flushWrites();
    const out = { effects: this.effects, counts: this.counts };
    this.effects = [];
    this.counts = emptyCounts();
    return out;
  }
}

function emptyCounts(): StepCounts {
  return { messages: 0, processed: 0, deadLettered: 0, late: 0, results: 0 };
}
