// Panes: the slices of time that aligned windows are assembled from. Each event goes to exactly one
// pane, and a window's result is merged from the panes it covers when it fires, so a sliding window of
// size 5 x slide costs one accumulator update per event instead of five.
//
// A pane is `slide` wide when the size is a multiple of the slide (always for tumbling windows, where
// a window is one pane). sliding() also accepts other sizes (e.g. 7 s sliding by 3 s); panes are then
// gcd(size, slide) wide, the widest slices whose boundaries include every window start and end.
import { firstWindowStart, lastWindowStart } from './assigners/aligned.ts';
import type { AlignedWindows } from './window.ts';

export interface Pane {
  readonly start: number;
  readonly end: number;
  /** Start of the earliest window that covers the pane. */
  readonly firstWindow: number;
  /** Watermark at which that window fires: from then on an update of the pane is a late update. */
  readonly firstFire: number;
  /** Watermark at which the latest window covering the pane is cleaned up, and the pane with it. */
  readonly dropAt: number;
  /** Each key's accumulators, keys in order of first arrival (part of the firing order). */
  readonly entries: Map<string, unknown[]>;
}

/** Where panes fall for one window definition. */
export class PaneGrid {
  /** Panes as a window spec of their own, so that `lastWindowStart` gives a pane's start. */
  private readonly panes: AlignedWindows;

  constructor(
    private readonly windows: AlignedWindows,
    private readonly allowedLateness: number,
  ) {
    const width = paneWidth(windows.size, windows.slide);
    this.panes = { kind: 'tumbling', size: width, slide: width, offset: windows.offset % width };
  }

  /** Start of the pane that holds event time `ts`. */
  startOf(ts: number): number {
    return lastWindowStart(ts, this.panes);
  }

  /** Cleanup time of the latest window covering the pane that starts at `start`. */
  dropAt(start: number): number {
    return lastWindowStart(start, this.windows) + this.windows.size - 1 + this.allowedLateness;
  }

  create(start: number): Pane {
    const spec = this.windows;
    const last = lastWindowStart(start, spec);
    const first = spec.slide === spec.size ? last : firstWindowStart(start, last, spec);
    return {
      start,
      end: start + this.panes.slide,
      firstWindow: first,
      firstFire: first + spec.size - 1,
      dropAt: last + spec.size - 1 + this.allowedLateness,
      entries: new Map(),
    };
  }
}

/** gcd(size, slide) by Euclid; exact for whole milliseconds, which is what durations parse to. */
function paneWidth(size: number, slide: number): number {
  let a = size;
  let b = slide;
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
