// State of tumbling and sliding windows, kept as panes (engine/pane.ts): an event updates the one pane
// that holds its time, and a window's result is merged from its panes when it fires. Panes are sorted
// by start, so the windows due and the panes to drop are found from the front.
//
// Which windows fired is one number, `firedUpTo`: windows fire in order of their end, and the operator
// calls fireDue as soon as the watermark reaches `nextDue`, so every window holding data whose end - 1
// is at most the watermark has fired. A late event may reach a window that fired while it had no data
// for the event's key (or no data at all); it counts as fired, and its first emission is revision 0.
//
// Order of results: windows by end (then start); within a window, keys in order of first appearance
// across its panes, pane by pane. That order is part of the snapshot (panes by start, each pane's keys
// in insertion order), so a restored state emits exactly what the original would have.
import type { AggregateSet } from './aggregate-set.ts';
import { lastWindowStart } from './assigners/aligned.ts';
import { PaneGrid, type Pane } from './pane.ts';
import type { Emit } from './records.ts';
import type { StateBudget, StateLimitRefusal } from './state-budget.ts';
import type { AlignedWindows } from './window.ts';
import { WindowRevisions, type SavedRevisions } from './window-revisions.ts';
import type { WindowState } from './window-state.ts';

/** Snapshot form (SNAPSHOT_FORMAT 2). A pane is [start, keys, saved accumulators of each key]. */
interface SavedState {
  firedUpTo: number;
  panes: [number, string[], unknown[][]][];
  revisions: SavedRevisions;
}

export class AlignedWindowState<V> implements WindowState<V> {
  private readonly grid: PaneGrid;
  private readonly panes = new Map<number, Pane>();
  private order: Pane[] = [];
  private cached: Pane | undefined;
  private readonly revisions = new WindowRevisions();
  /** Every window with end - 1 <= firedUpTo has fired. */
  private firedUpTo = -Infinity;
  private entries = 0;
  nextDue = Infinity;

  constructor(
    private readonly spec: AlignedWindows,
    private readonly aggs: AggregateSet<V>,
    private readonly allowedLateness: number,
    private readonly emit: Emit<V>,
    private readonly budget: StateBudget,
  ) {
    this.grid = new PaneGrid(spec, allowedLateness);
  }

  /** Number of (key, pane) entries. */
  get openWindows(): number {
    return this.entries;
  }

  add(key: string, eventTime: number, value: V, watermark: number): boolean | StateLimitRefusal {
    let pane = this.cached;
    if (pane === undefined || !(eventTime >= pane.start && eventTime < pane.end)) {
      const start = this.grid.startOf(eventTime);
      pane = this.panes.get(start);
      if (pane === undefined) {
        if (watermark >= this.grid.dropAt(start)) return false;
        pane = this.createPane(start);
      }
      this.cached = pane;
    }
    // Windows covering a pane are cleaned up in order of start, the last one with the pane.
    if (watermark >= pane.dropAt) return false;
    const budget = this.budget;
    let accs = pane.entries.get(key);
    if (accs === undefined) {
      const refused = budget.claimEntry(key);
      if (refused) {
        if (pane.entries.size === 0) this.dropEmptyPane(pane);
        return refused;
      }
      accs = this.aggs.create();
      pane.entries.set(key, accs);
      this.entries++;
    } else if (budget.tight && this.aggs.wouldGrow(accs, value)) {
      return budget.bytesRefusal();
    }
    if (this.aggs.growableCount > 0) {
      const before = this.aggs.values(accs);
      this.aggs.add(accs, value);
      budget.valuesChanged(this.aggs.values(accs) - before);
    } else {
      this.aggs.add(accs, value);
    }
    if (watermark >= pane.firstFire) this.lateUpdate(pane, key, watermark);
    return true;
  }

  /** A pane made for an event that was then refused: nothing may stay of it. */
  private dropEmptyPane(pane: Pane): void {
    this.panes.delete(pane.start);
    const i = this.order.indexOf(pane);
    if (i >= 0) this.order.splice(i, 1);
    if (this.cached === pane) this.cached = undefined;
    this.updateNextDue();
  }

  fireDue(watermark: number): void {
    const { size, slide } = this.spec;
    if (watermark > this.firedUpTo) {
      const order = this.order;
      let start = this.firstUnfiredStart();
      let i = this.firstPaneFrom(start);
      while (i < order.length) {
        // Windows before the first one covering the next pane hold no data: skip them.
        const first = order[i]!.firstWindow;
        if (first > start) start = first;
        if (watermark < start + size - 1) break;
        this.fireWindow(start, i, watermark);
        start += slide;
        while (i < order.length && order[i]!.start < start) i++;
      }
      this.firedUpTo = watermark;
    }
    this.revisions.dropThrough(watermark - size + 1 - this.allowedLateness);
    let removed = 0;
    while (removed < this.order.length && this.order[removed]!.dropAt <= watermark) {
      const pane = this.order[removed++]!;
      this.panes.delete(pane.start);
      this.entries -= pane.entries.size;
      for (const [key, accs] of pane.entries) this.budget.entryRemoved(key, this.aggs.growableCount > 0 ? this.aggs.values(accs) : 0);
      if (this.cached === pane) this.cached = undefined;
    }
    if (removed > 0) this.order = this.order.slice(removed);
    this.updateNextDue();
  }

  save(): SavedState {
    return {
      firedUpTo: this.firedUpTo,
      panes: this.order.map((pane) => {
        const keys: string[] = [];
        const accs: unknown[][] = [];
        for (const [key, entry] of pane.entries) {
          keys.push(key);
          accs.push(this.aggs.save(entry));
        }
        return [pane.start, keys, accs];
      }),
      revisions: this.revisions.save(),
    };
  }

  load(saved: unknown): void {
    const state = saved as SavedState;
    this.panes.clear();
    this.order = [];
    this.cached = undefined;
    this.entries = 0;
    this.budget.clear();
    this.firedUpTo = state.firedUpTo;
    for (const [start, keys, accs] of state.panes) {
      const pane = this.grid.create(start);
      for (let i = 0; i < keys.length; i++) {
        const loaded = this.aggs.load(accs[i]!);
        pane.entries.set(keys[i]!, loaded);
        this.budget.entryAdded(keys[i]!);
        if (this.aggs.growableCount > 0) this.budget.valuesChanged(this.aggs.values(loaded));
      }
      this.entries += keys.length;
      this.panes.set(start, pane);
      this.order.push(pane);
    }
    this.revisions.load(state.revisions);
    this.updateNextDue();
  }

  private createPane(start: number): Pane {
    const pane = this.grid.create(start);
    this.panes.set(start, pane);
    let i = this.order.length;
    while (i > 0 && this.order[i - 1]!.start > start) i--;
    this.order.splice(i, 0, pane);
    this.updateNextDue();
    return pane;
  }

  /** Emits every key of the window [start, start + size) whose first pane is order[first]. */
  private fireWindow(start: number, first: number, watermark: number): void {
    const end = start + this.spec.size;
    const order = this.order;
    let last = first + 1;
    while (last < order.length && order[last]!.start < end) last++;
    const keepRevisions = watermark < end - 1 + this.allowedLateness;
    if (last === first + 1) {
      // One pane (always so for tumbling windows): its accumulators are the window's.
      const entries = order[first]!.entries;
      for (const [key, accs] of entries) this.emitResult(key, start, end, accs, 0);
      if (keepRevisions) this.revisions.fired(start, entries.keys());
      return;
    }
    // A key in one pane only uses that pane's accumulators; a key in several gets a fresh accumulator
    // that the panes are merged into, in pane order, leaving the panes as they were for later windows.
    const slots = new Map<string, number>();
    const keys: string[] = [];
    const merged: unknown[][] = [];
    const fresh: boolean[] = [];
    for (let p = first; p < last; p++) {
      for (const [key, accs] of order[p]!.entries) {
        const slot = slots.get(key);
        if (slot === undefined) {
          slots.set(key, keys.length);
          keys.push(key);
          merged.push(accs);
          fresh.push(false);
        } else {
          let into = merged[slot]!;
          if (!fresh[slot]) {
            into = this.aggs.create();
            this.aggs.merge(into, merged[slot]!);
            merged[slot] = into;
            fresh[slot] = true;
          }
          this.aggs.merge(into, accs);
        }
      }
    }
    for (let k = 0; k < keys.length; k++) this.emitResult(keys[k]!, start, end, merged[k]!, 0);
    if (keepRevisions) this.revisions.fired(start, keys);
  }

  /** A pane changed after a window covering it fired: re-emits the key in each such window not yet
   *  cleaned up, earliest first. */
  private lateUpdate(pane: Pane, key: string, watermark: number): void {
    const { size, slide } = this.spec;
    for (let start = pane.firstWindow; start <= pane.start; start += slide) {
      const fire = start + size - 1;
      if (watermark < fire) break;
      if (watermark >= fire + this.allowedLateness) continue;
      this.emitResult(key, start, start + size, this.accumulatorsOf(key, start), this.revisions.next(start, key));
    }
    // The windows passed by the watermark count as fired even if they had no data: a later fireDue
    // must not fire them again with revision 0.
    if (watermark > this.firedUpTo) this.firedUpTo = watermark;
    this.updateNextDue();
  }

  /** The key's accumulators in the window that starts at `start` (the key is in one of its panes). */
  private accumulatorsOf(key: string, start: number): unknown[] {
    const end = start + this.spec.size;
    const order = this.order;
    let found: unknown[] | undefined;
    let fresh = false;
    for (let p = this.firstPaneFrom(start); p < order.length && order[p]!.start < end; p++) {
      const accs = order[p]!.entries.get(key);
      if (accs === undefined) continue;
      if (found === undefined) {
        found = accs;
        continue;
      }
      if (!fresh) {
        const into = this.aggs.create();
        this.aggs.merge(into, found);
        found = into;
        fresh = true;
      }
      this.aggs.merge(found, accs);
    }
    return found!;
  }

  private emitResult(key: string, start: number, end: number, accs: unknown[], revision: number): void {
    this.emit({ type: 'result', key, start, end, values: this.aggs.results(accs), revision });
  }

  /** Start of the earliest window that has not fired yet. */
  private firstUnfiredStart(): number {
    const fired = this.firedUpTo;
    if (!Number.isFinite(fired)) return fired;
    // The earliest start s with s + size - 1 > fired.
    return lastWindowStart(fired - this.spec.size + 1, this.spec) + this.spec.slide;
  }

  /** Index of the first pane that starts at or after `start`. */
  private firstPaneFrom(start: number): number {
    const order = this.order;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order[mid]!.start < start) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private updateNextDue(): void {
    const { size } = this.spec;
    let due = this.revisions.earliest + size - 1 + this.allowedLateness;
    const order = this.order;
    if (order.length > 0 && order[0]!.dropAt < due) due = order[0]!.dropAt;
    const start = this.firstUnfiredStart();
    const i = this.firstPaneFrom(start);
    if (i < order.length) due = Math.min(due, Math.max(start + size - 1, order[i]!.firstFire));
    this.nextDue = due;
  }
}
