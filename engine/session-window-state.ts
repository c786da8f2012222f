// State of session windows: per key, a list of non-overlapping sessions sorted by start. An event at
// time t proposes [t, t + gap) and merges with every session it overlaps. Each live session has one
// timer in a heap; when a session grows its timer is moved lazily (re-queued when it pops too early).
//
// A session that already fired and then changes (a late event extends it or bridges it to another)
// gets a new identity: its old result is retracted and the merged session is emitted.
import type { AggregateSet } from './aggregate-set.ts';
import type { Emit } from './records.ts';
import type { StateBudget, StateLimitRefusal } from './state-budget.ts';
import { TimerHeap } from './timer-heap.ts';
import type { SessionWindows } from './window.ts';
import type { WindowState } from './window-state.ts';

interface Session {
  key: string;
  start: number;
  end: number;
  accs: unknown[];
  fired: boolean;
  revision: number;
  dead: boolean;
  /** The timer currently standing for this session in the heap. */
  timerTime: number;
  timerSeq: number;
}

/** Snapshot form: [key, [start, end, fired, revision, timerTime, timerSeq, saved accumulators][]]. */
type SavedSessions = { seq: number; keys: [string, [number, number, boolean, number, number, number, unknown[]][]][] };

export class SessionWindowState<V> implements WindowState<V> {
  private readonly byKey = new Map<string, Session[]>();
  private readonly timers = new TimerHeap<Session>();
  private seq = 0;
  private count = 0;

  constructor(
    private readonly spec: SessionWindows,
    private readonly aggs: AggregateSet<V>,
    private readonly allowedLateness: number,
    private readonly emit: Emit<V>,
    private readonly budget: StateBudget,
  ) {}

  get nextDue(): number {
    return this.timers.peekTime();
  }

  get openWindows(): number {
    return this.count;
  }

  add(key: string, eventTime: number, value: V, watermark: number): boolean | StateLimitRefusal {
    const start = eventTime;
    const end = eventTime + this.spec.gap;
    let list = this.byKey.get(key);
    if (list === undefined) {
      if (watermark >= end - 1 + this.allowedLateness) return false;
      list = [];
      this.byKey.set(key, list);
    }
    // Sessions overlapping [start, end) form a contiguous run of the sorted list.
    let lo = 0;
    while (lo < list.length && list[lo]!.end <= start) lo++;
    let hi = lo;
    while (hi < list.length && list[hi]!.start < end) hi++;
    let mergedStart = start;
    let mergedEnd = end;
    if (hi > lo) {
      mergedStart = Math.min(start, list[lo]!.start);
      mergedEnd = Math.max(end, list[hi - 1]!.end);
    }
    if (watermark >= mergedEnd - 1 + this.allowedLateness) {
      if (list.length === 0) this.byKey.delete(key);
      return false;
    }
    const budget = this.budget;
    const refused = hi === lo ? budget.admitEntry(key) : budget.tight && list.slice(lo, hi).some((s) => this.aggs.wouldGrow(s.accs, value)) ? budget.bytesRefusal() : undefined;
    if (refused) {
      if (list.length === 0) this.byKey.delete(key);
      return refused;
    }

    if (hi - lo === 1) {
      const only = list[lo]!;
      if (!only.fired || (only.start === mergedStart && only.end === mergedEnd)) {
        // Grows (or stays) in place: no result was published under the old bounds.
        only.start = mergedStart;
        only.end = mergedEnd;
        this.addCounted(only.accs, value);
        if (only.fired) this.fire(only);
        return true;
      }
    }

    const merged: Session = {
      key,
      start: mergedStart,
      end: mergedEnd,
      accs: this.aggs.create(),
      fired: false,
      revision: -1,
      dead: false,
      timerTime: 0,
      timerSeq: 0,
    };
    for (let i = lo; i < hi; i++) {
      const old = list[i]!;
      this.aggs.merge(merged.accs, old.accs);
      old.dead = true;
      this.count--;
      budget.entryRemoved(key, this.valuesOf(old.accs));
      if (old.fired) this.emit({ type: 'retract', key, start: old.start, end: old.end, revision: old.revision });
    }
    this.aggs.add(merged.accs, value);
    list.splice(lo, hi - lo, merged);
    this.count++;
    budget.entryAdded(key);
    budget.valuesChanged(this.valuesOf(merged.accs));
    if (watermark >= mergedEnd - 1) {
      // Already due: a late (but allowed) event; publish at once and wait for cleanup.
      merged.fired = true;
      this.fire(merged);
      this.schedule(merged, mergedEnd - 1 + this.allowedLateness);
    } else {
      this.schedule(merged, mergedEnd - 1);
    }
    return true;
  }

  fireDue(watermark: number): void {
    while (this.timers.size > 0 && this.timers.peekTime() <= watermark) {
      const timer = this.timers.pop()!;
      const s = timer.target;
      if (s.dead || timer.seq !== s.timerSeq) continue;
      const due = s.fired ? s.end - 1 + this.allowedLateness : s.end - 1;
      if (due > timer.time) {
        // The session grew since this timer was set: queue it again at its real time.
        this.schedule(s, due);
        continue;
      }
      if (!s.fired) {
        s.fired = true;
        this.fire(s);
        this.schedule(s, s.end - 1 + this.allowedLateness);
      } else {
        this.remove(s);
      }
    }
  }

  save(): SavedSessions {
    const keys: SavedSessions['keys'] = [];
    for (const [key, list] of this.byKey) {
      keys.push([key, list.map((s) => [s.start, s.end, s.fired, s.revision, s.timerTime, s.timerSeq, this.aggs.save(s.accs)])]);
    }
    return { seq: this.seq, keys };
  }

  load(saved: unknown): void {
    const state = saved as SavedSessions;
    this.byKey.clear();
    this.timers.clear();
    this.count = 0;
    this.budget.clear();
    this.seq = state.seq;
    for (const [key, sessions] of state.keys) {
      const list: Session[] = [];
      for (const [start, end, fired, revision, timerTime, timerSeq, accs] of sessions) {
        const s: Session = { key, start, end, accs: this.aggs.load(accs), fired, revision, dead: false, timerTime, timerSeq };
        list.push(s);
        this.budget.entryAdded(key);
        this.budget.valuesChanged(this.valuesOf(s.accs));
        this.timers.push({ time: timerTime, seq: timerSeq, target: s });
      }
      this.count += list.length;
      this.byKey.set(key, list);
    }
  }

  private schedule(s: Session, time: number): void {
    s.timerTime = time;
    s.timerSeq = ++this.seq;
    this.timers.push({ time, seq: s.timerSeq, target: s });
  }

  private fire(s: Session): void {
    s.revision++;
    this.emit({ type: 'result', key: s.key, start: s.start, end: s.end, values: this.aggs.results(s.accs), revision: s.revision });
  }

  private valuesOf(accs: unknown[]): number {
    return this.aggs.growableCount > 0 ? this.aggs.values(accs) : 0;
  }

  private addCounted(accs: unknown[], value: V): void {
    const before = this.valuesOf(accs);
    this.aggs.add(accs, value);
    this.budget.valuesChanged(this.valuesOf(accs) - before);
  }

  private remove(s: Session): void {
    s.dead = true;
    this.count--;
    this.budget.entryRemoved(s.key, this.valuesOf(s.accs));
    const list = this.byKey.get(s.key)!;
    const i = list.indexOf(s);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byKey.delete(s.key);
  }
}
