// The keyed event-time window operator: the state of one partition's window actors. It assigns events
// to windows, tracks the watermark across inputs, fires windows when the watermark passes them,
// applies late updates within the allowed lateness, and sends events that are too late to the side
// output with the reason. It does no I/O: results go to `emit`, state goes to `snapshot()`.
import { describeError, ShardflowError } from '../common/errors.ts';
import type { AnyAggregate } from './aggregate.ts';
import { AggregateSet } from './aggregate-set.ts';
import { AlignedWindowState } from './aligned-window-state.ts';
import { formatTime, type Emit, type LateReason } from './records.ts';
import { StateBudget, UNLIMITED, type StateLimitRefusal, type StateLimits } from './state-budget.ts';
import { SessionWindowState } from './session-window-state.ts';
import { decodeSnapshot, encodeSnapshot, SNAPSHOT_FORMAT } from './snapshot-codec.ts';
import { describeWindow, type WindowSpec } from './window.ts';
import type { WindowState } from './window-state.ts';
import { WatermarkTracker } from './watermark-tracker.ts';

export interface WindowOperatorOptions<V> {
  window: WindowSpec;
  aggregates: Record<string, AnyAggregate<V>>;
  /** ms an event may trail the latest event time of its input and still be on time. Default 0. */
  maxOutOfOrderness?: number;
  /** ms after a window fired during which late events still update it. Default 0. */
  allowedLateness?: number;
  /** ms of processing time without data after which an input stops holding back the watermark.
   *  Default Infinity (never); checked on `onProcessingTime`. */
  idleTimeout?: number;
  /** Processing-time clock in ms (for idleness only). Default Date.now. */
  clock?: () => number;
  /** Receives results, retractions and late events, in order. */
  emit: Emit<V>;
  /** Ceilings of the state (keys, open entries, estimated bytes); none by default. */
  limits?: Partial<StateLimits>;
}

export interface OperatorCounters {
  eventsIn: number;
  late: number;
  results: number;
  retractions: number;
}

interface Snapshot {
  format: number;
  window: string;
  aggregates: string[];
  watermark: ReturnType<WatermarkTracker['save']>;
  counters: OperatorCounters;
  state: unknown;
}

export class WindowOperator<V> {
  readonly counters: OperatorCounters = { eventsIn: 0, late: 0, results: 0, retractions: 0 };
  private readonly tracker: WatermarkTracker;
  private readonly state: WindowState<V>;
  private readonly aggs: AggregateSet<V>;
  private readonly emit: Emit<V>;
  private readonly allowedLateness: number;
  private readonly windowName: string;
  private readonly budget: StateBudget;

  constructor(options: WindowOperatorOptions<V>) {
    this.aggs = new AggregateSet(options.aggregates);
    this.budget = new StateBudget({ ...UNLIMITED, ...options.limits }, this.aggs.growableCount);
    this.allowedLateness = options.allowedLateness ?? 0;
    this.windowName = describeWindow(options.window);
    const counters = this.counters;
    const downstream = options.emit;
    this.emit = (record) => {
      if (record.type === 'result') counters.results++;
      else if (record.type === 'retract') counters.retractions++;
      else counters.late++;
      downstream(record);
    };
    this.tracker = new WatermarkTracker({
      maxOutOfOrderness: options.maxOutOfOrderness ?? 0,
      idleTimeout: options.idleTimeout ?? Infinity,
      clock: options.clock ?? Date.now,
    });
    this.state =
      options.window.kind === 'session'
        ? new SessionWindowState(options.window, this.aggs, this.allowedLateness, this.emit, this.budget)
        : new AlignedWindowState(options.window, this.aggs, this.allowedLateness, this.emit, this.budget);
  }

  get watermark(): number {
    return this.tracker.watermark;
  }

  /** Size of the window state: (key, pane) entries for tumbling and sliding windows (a pane is shared
   *  by every sliding window that covers it), (key, session) pairs for session windows. */
  get openWindows(): number {
    return this.state.openWindows;
  }

  /** Inputs that hold back the watermark before their first event (until idle). */
  expectInputs(ids: Iterable<number>): void {
    this.tracker.expect(ids);
  }

  /**
   * One event of `input` (a source partition) with its key and event time in epoch ms. Returns a
   * refusal when the event would take the state past one of its limits: then nothing changed (not
   * even the watermark) and the caller dead-letters the event.
   */
  process(key: string, eventTime: number, value: V, input = 0): StateLimitRefusal | undefined {
    this.counters.eventsIn++;
    if (!Number.isFinite(eventTime)) {
      this.late('invalid-event-time', `event time ${String(eventTime)} is not a finite number of epoch milliseconds`, key, eventTime, value, input);
      return undefined;
    }
    const watermark = this.tracker.watermark;
    let accepted: boolean | StateLimitRefusal;
    try {
      accepted = this.state.add(key, eventTime, value, watermark);
    } catch (err) {
      this.late('aggregate-failed', `an aggregate threw on this event: ${describeError(err)}`, key, eventTime, value, input);
      return undefined;
    }
    if (typeof accepted === 'object') return accepted;
    if (!accepted) {
      this.late(
        'window-closed',
        `event time ${formatTime(eventTime)} is behind the watermark ${formatTime(watermark)} by more than the allowed lateness (${this.allowedLateness}ms): every ${this.windowName} window it belongs to has closed`,
        key,
        eventTime,
        value,
        input,
      );
    }
    if (this.tracker.observe(input, eventTime) && this.tracker.watermark >= this.state.nextDue) {
      this.state.fireDue(this.tracker.watermark);
    }
    return undefined;
  }

  /** Keys holding state now. */
  get keys(): number {
    return this.budget.keys;
  }

  /** Estimated bytes of the state (see engine/state-budget.ts). */
  get stateBytes(): number {
    return this.budget.bytes;
  }

  /** Processing-time tick: lets idle inputs stop holding back the watermark. */
  onProcessingTime(now?: number): void {
    if (this.tracker.tick(now) && this.tracker.watermark >= this.state.nextDue) {
      this.state.fireDue(this.tracker.watermark);
    }
  }

  /** The earliest watermark at which some window fires or is cleaned up (Infinity: none open). */
  get nextFireTime(): number {
    return this.state.nextDue;
  }

  /** Largest event time seen. */
  get latestEventTime(): number {
    return this.tracker.latestEventTime;
  }

  /**
   * Moves the watermark to a value decided upstream, e.g. a marker a worker wrote into the log when
   * its partition went idle. Deterministic, unlike `onProcessingTime`: a replay of the same log
   * meets the marker at the same position.
   */
  advanceWatermark(watermark: number): void {
    if (this.tracker.advanceTo(watermark) && this.tracker.watermark >= this.state.nextDue) {
      this.state.fireDue(this.tracker.watermark);
    }
  }

  /** End of a bounded input: fires every open window and drops all state. */
  endOfInput(): void {
    this.tracker.finish();
    this.state.fireDue(Infinity);
  }

  /** The whole state (windows, accumulators, watermarks, counters) as msgpack bytes. */
  snapshot(): Uint8Array {
    const snap: Snapshot = {
      format: SNAPSHOT_FORMAT,
      window: this.windowName,
      aggregates: [...this.aggs.names],
      watermark: this.tracker.save(),
      counters: { ...this.counters },
      state: this.state.save(),
    };
    return encodeSnapshot(snap);
  }

  /** Replaces this operator's state with a snapshot taken by an operator of the same definition. */
  restore(bytes: Uint8Array): void {
    const snap = decodeSnapshot(bytes) as Partial<Snapshot> | null;
    if (snap === null || typeof snap !== 'object' || snap.format !== SNAPSHOT_FORMAT) {
      throw new ShardflowError('SNAPSHOT_CORRUPT', `snapshot format ${String(snap?.format)} is not ${SNAPSHOT_FORMAT}`);
    }
    const names = this.aggs.names.join(',');
    if (snap.window !== this.windowName || (snap.aggregates ?? []).join(',') !== names) {
      throw new ShardflowError(
        'SNAPSHOT_INCOMPATIBLE',
        `the checkpoint holds ${snap.window} windows with aggregates [${(snap.aggregates ?? []).join(', ')}], but the job now defines ${this.windowName} with [${names}]; ` +
          'restore with the original definition, or give the changed job a new name so it starts from empty state',
      );
    }
    this.tracker.load(snap.watermark!);
    this.state.load(snap.state);
    Object.assign(this.counters, snap.counters);
  }

  private late(reason: LateReason, message: string, key: string, eventTime: number, value: V, input: number): void {
    this.emit({ type: 'late', reason, message, key, eventTime, input, watermark: this.tracker.watermark, value });
  }
}
