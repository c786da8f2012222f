// The last revision emitted for each (key, window) of aligned windows that fired and still accept late
// updates. Kept apart from the panes because a window spans several panes and a pane several windows;
// with no allowed lateness a window is cleaned up as it fires, so nothing is ever kept here.

interface FiredWindow {
  readonly start: number;
  readonly revisions: Map<string, number>;
}

/** Snapshot form of one window: [start, keys, revisions]. */
export type SavedRevisions = [number, string[], number[]][];

export class WindowRevisions {
  /** Sorted by start; windows all have the same size, so also by cleanup time. */
  private windows: FiredWindow[] = [];

  /** Start of the earliest window held, Infinity when none. */
  get earliest(): number {
    return this.windows.length === 0 ? Infinity : this.windows[0]!.start;
  }

  /** Records the first firing of a window, revision 0 for each of `keys`. Windows fire in order. */
  fired(start: number, keys: Iterable<string>): void {
    const revisions = new Map<string, number>();
    for (const key of keys) revisions.set(key, 0);
    this.windows.push({ start, revisions });
  }

  /** The revision of a new emission of (key, window): one more than the last, 0 for the first. */
  next(start: number, key: string): number {
    const windows = this.windows;
    let lo = 0;
    let hi = windows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (windows[mid]!.start < start) lo = mid + 1;
      else hi = mid;
    }
    let window = windows[lo];
    if (window === undefined || window.start !== start) {
      // A window that fired without any data, now reached by a late event.
      window = { start, revisions: new Map() };
      windows.splice(lo, 0, window);
    }
    const revision = (window.revisions.get(key) ?? -1) + 1;
    window.revisions.set(key, revision);
    return revision;
  }

  /** Forgets the windows that start at or before `start` (they are cleaned up). */
  dropThrough(start: number): void {
    let n = 0;
    while (n < this.windows.length && this.windows[n]!.start <= start) n++;
    if (n > 0) this.windows = this.windows.slice(n);
  }

  save(): SavedRevisions {
    return this.windows.map((w) => [w.start, [...w.revisions.keys()], [...w.revisions.values()]]);
  }

  load(saved: SavedRevisions): void {
    this.windows = saved.map(([start, keys, revisions]) => ({ start, revisions: new Map(keys.map((k, i) => [k, revisions[i]!])) }));
  }
}
