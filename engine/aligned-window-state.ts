// State of tumbling and sliding windows: one pane per window start, holding every key's accumulators
// for that window. Panes are kept sorted by start, so the windows that are due are always a prefix.
// Iteration order (panes by start, keys by first arrival) is part of the snapshot, which makes the
// order of results identical after a restore.
import type { AggregateSet } from './aggregate-set.ts';
import { firstWindowStart, lastWindowStart } from './assigners/aligned.ts';
import type { Emit } from './records.ts';
import type { AlignedWindows } from './window.ts';
import type { WindowState } from './window-state.ts';

interface Entry {
  accs: unknown[];
  /** Last revision emitted, -1 before the first firing. */
  revision: number;
}

interface Pane {
  readonly start: number;
  readonly end: number;
  fired: boolean;
  readonly entries: Map<string, Entry>;
}

/** Snapshot form of a pane: [start, fired, keys, revisions, saved accumulators]. */
type SavedPane = [number, boolean, string[], number[], unknown[][]];

export class AlignedWindowState<V> implements WindowState<V> {
  private readonly panes = new Map<number, Pane>();
  private order: Pane[] = [];
  private cached: Pane | undefined;
  private entries = 0;
  nextDue = Infinity;

  constructor(
    private readonly spec: AlignedWindows,
    private readonly aggs: AggregateSet<V>,
    private readonly allowedLateness: number,
    private readonly emit: Emit<V>,
  ) {}

  get openWindows(): number {
    return this.entries;
  }

  add(key: string, eventTime: number, value: V, watermark: number): boolean {
    const spec = this.spec;
    const last = lastWindowStart(eventTime, spec);
    const first = spec.slide === spec.size ? last : firstWindowStart(eventTime, last, spec);
    let accepted = false;
    for (let start = first; start <= last; start += spec.slide) {
      const end = start + spec.size;
      if (watermark >= end - 1 + this.allowedLateness) continue;
      accepted = true;
      let pane = this.cached;
      if (pane === undefined || pane.start !== start) {
        pane = this.panes.get(start) ?? this.createPane(start, end, watermark);
        this.cached = pane;
      }
      let entry = pane.entries.get(key);
      if (entry === undefined) {
        entry = { accs: this.aggs.create(), revision: -1 };
        pane.entries.set(key, entry);
        this.entries++;
      }
      this.aggs.add(entry.accs, value);
      if (pane.fired) this.fire(pane, key, entry);
    }
    return accepted;
  }

  fireDue(watermark: number): void {
    let removed = 0;
    for (const pane of this.order) {
      if (watermark < pane.end - 1) break;
      if (!pane.fired) {
        pane.fired = true;
        for (const [key, entry] of pane.entries) this.fire(pane, key, entry);
      }
      // Cleanup times grow with the start, so the panes to drop form a prefix.
      if (watermark >= pane.end - 1 + this.allowedLateness) removed++;
    }
    if (removed > 0) {
      for (let i = 0; i < removed; i++) {
        const pane = this.order[i]!;
        this.panes.delete(pane.start);
        this.entries -= pane.entries.size;
        if (this.cached === pane) this.cached = undefined;
      }
      this.order = this.order.slice(removed);
    }
    this.updateNextDue();
  }

  save(): SavedPane[] {
    return this.order.map((pane) => {
      const keys: string[] = [];
      const revisions: number[] = [];
      const accs: unknown[][] = [];
      for (const [key, entry] of pane.entries) {
        keys.push(key);
        revisions.push(entry.revision);
        accs.push(this.aggs.save(entry.accs));
      }
      return [pane.start, pane.fired, keys, revisions, accs];
    });
  }

  load(saved: unknown): void {
    this.panes.clear();
    this.order = [];
    this.cached = undefined;
    this.entries = 0;
    for (const [start, fired, keys, revisions, accs] of saved as SavedPane[]) {
      const pane: Pane = { start, end: start + this.spec.size, fired, entries: new Map() };
      for (let i = 0; i < keys.length; i++) {
        pane.entries.set(keys[i]!, { accs: this.aggs.load(accs[i]!), revision: revisions[i]! });
      }
      this.entries += keys.length;
      this.panes.set(start, pane);
      this.order.push(pane);
    }
    this.updateNextDue();
  }

  private createPane(start: number, end: number, watermark: number): Pane {
    // A pane created for a window the watermark already passed holds only late updates: it counts
    // as fired, so each update is emitted at once.
    const pane: Pane = { start, end, fired: watermark >= end - 1, entries: new Map() };
    this.panes.set(start, pane);
    let i = this.order.length;
    while (i > 0 && this.order[i - 1]!.start > start) i--;
    this.order.splice(i, 0, pane);
    this.updateNextDue();
    return pane;
  }

  private fire(pane: Pane, key: string, entry: Entry): void {
    entry.revision++;
    this.emit({
      type: 'result',
      key,
      start: pane.start,
      end: pane.end,
      values: this.aggs.results(entry.accs),
      revision: entry.revision,
    });
  }

  private updateNextDue(): void {
    let due = Infinity;
    for (const pane of this.order) {
      if (!pane.fired) {
        due = Math.min(due, pane.end - 1);
        break;
      }
      due = Math.min(due, pane.end - 1 + this.allowedLateness);
    }
    this.nextDue = due;
  }
}
