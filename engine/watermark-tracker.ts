// The watermark of an operator with several inputs (source partitions): each input has its own
// bounded-out-of-orderness watermark and the operator's watermark is the minimum across inputs, so a
// slow input holds back windows instead of having its events declared late.
//
// Idleness: an input that has delivered nothing for `idleTimeout` ms of processing time is left out
// of the minimum, so one quiet partition cannot stall every window forever. When every input is
// idle the stream has gone quiet, and the watermark advances to the latest event time seen, which
// fires every window that ended by then. An idle input that delivers again rejoins the minimum;
// the watermark never goes back.
import { boundedWatermark } from './watermark-generator.ts';

interface InputState {
  id: number;
  maxEventTime: number;
  watermark: number;
  idle: boolean;
  /** Data arrived since the last processing-time tick. */
  active: boolean;
  lastActiveAt: number;
}

export interface WatermarkTrackerOptions {
  /** ms an event may arrive behind the latest event time of its input without being late. */
  maxOutOfOrderness: number;
  /** ms without data after which an input no longer holds back the watermark (Infinity: never). */
  idleTimeout: number;
  /** Processing-time clock, ms. */
  clock: () => number;
}

/** What a snapshot keeps: per input [id, max event time, idle, last active at, active since tick]. */
export interface WatermarkState {
  watermark: number;
  inputs: [number, number, boolean, number, boolean][];
}

export class WatermarkTracker {
  private readonly inputs = new Map<number, InputState>();
  private current = -Infinity;
  private lastInput: InputState | undefined;

  constructor(private readonly options: WatermarkTrackerOptions) {}

  get watermark(): number {
    return this.current;
  }

  /** Declares inputs that hold back the watermark before their first event (until they go idle). */
  expect(ids: Iterable<number>): void {
    for (const id of ids) this.input(id);
  }

  /** Records an event time from an input. Returns true when the operator's watermark advanced. */
  observe(id: number, eventTime: number): boolean {
    const s = this.lastInput !== undefined && this.lastInput.id === id ? this.lastInput : this.input(id);
    this.lastInput = s;
    s.active = true;
    if (s.idle) {
      s.idle = false;
      if (eventTime > s.maxEventTime) {
        s.maxEventTime = eventTime;
        s.watermark = boundedWatermark(eventTime, this.options.maxOutOfOrderness);
      }
      return this.recompute();
    }
    if (eventTime <= s.maxEventTime) return false;
    const wasBottleneck = s.watermark <= this.current;
    s.maxEventTime = eventTime;
    s.watermark = boundedWatermark(eventTime, this.options.maxOutOfOrderness);
    return wasBottleneck ? this.recompute() : false;
  }

  /** Processing-time tick: marks inputs idle. Returns true when the watermark advanced. */
  tick(now: number = this.options.clock()): boolean {
    let changed = false;
    for (const s of this.inputs.values()) {
      if (s.active) {
        s.active = false;
        s.lastActiveAt = now;
      } else if (!s.idle && now - s.lastActiveAt >= this.options.idleTimeout) {
        s.idle = true;
        changed = true;
      }
    }
    return changed ? this.recompute() : false;
  }

  /** A watermark decided upstream (a marker in the log): moves the watermark forward, never back.
   *  Returns true when it advanced. */
  advanceTo(watermark: number): boolean {
    if (watermark <= this.current) return false;
    this.current = watermark;
    return true;
  }

  /** Largest event time seen on any input. */
  get latestEventTime(): number {
    let latest = -Infinity;
    for (const s of this.inputs.values()) if (s.maxEventTime > latest) latest = s.maxEventTime;
    return latest;
  }

  /** End of a bounded input: every window may fire. */
  finish(): void {
    this.current = Infinity;
  }

  save(): WatermarkState {
    return {
      watermark: this.current,
      inputs: [...this.inputs.values()].map((s) => [s.id, s.maxEventTime, s.idle, s.lastActiveAt, s.active]),
    };
  }

  load(state: WatermarkState): void {
    this.inputs.clear();
    this.lastInput = undefined;
    for (const [id, maxEventTime, idle, lastActiveAt, active] of state.inputs) {
      this.inputs.set(id, {
        id,
        maxEventTime,
        watermark: boundedWatermark(maxEventTime, this.options.maxOutOfOrderness),
        idle,
        active,
        lastActiveAt,
      });
    }
    this.current = state.watermark;
  }

  private input(id: number): InputState {
    let s = this.inputs.get(id);
    if (s === undefined) {
      s = { id, maxEventTime: -Infinity, watermark: -Infinity, idle: false, active: false, lastActiveAt: this.options.clock() };
      this.inputs.set(id, s);
    }
    return s;
  }

  private recompute(): boolean {
    let min = Infinity;
    let latest = -Infinity;
    for (const s of this.inputs.values()) {
      if (!s.idle && s.watermark < min) min = s.watermark;
      if (s.maxEventTime > latest) latest = s.maxEventTime;
    }
    const candidate = min === Infinity ? latest : min;
    if (candidate > this.current) {
      this.current = candidate;
      return true;
    }
    return false;
  }
}
