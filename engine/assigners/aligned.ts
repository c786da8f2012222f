// Window starts of aligned (tumbling and sliding) windows, computed without allocating: the engine
// calls these once per event.
import type { AlignedWindows } from '../window.ts';

/** Start of the latest window that contains `ts`. */
export function lastWindowStart(ts: number, spec: AlignedWindows): number {
  const r = (ts - spec.offset) % spec.slide;
  return ts - (r < 0 ? r + spec.slide : r);
}

/** Start of the earliest window that contains `ts`, given the latest one. */
export function firstWindowStart(ts: number, last: number, spec: AlignedWindows): number {
  // Windows start every `slide` ms going back from `last`, as long as they still reach past ts.
  const count = Math.ceil((last + spec.size - ts) / spec.slide);
  return last - (count - 1) * spec.slide;
}

/** Every window [start, end) that contains `ts`, earliest first (for tests and tools, not the hot path). */
export function alignedWindowsOf(ts: number, spec: AlignedWindows): { start: number; end: number }[] {
  const last = lastWindowStart(ts, spec);
  const out: { start: number; end: number }[] = [];
  for (let s = firstWindowStart(ts, last, spec); s <= last; s += spec.slide) out.push({ start: s, end: s + spec.size });
  return out;
}
