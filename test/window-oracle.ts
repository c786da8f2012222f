// An independent brute-force model of the window engine's semantics, for property tests. It keeps
// every accepted event in plain lists and recomputes aggregates from scratch; it shares no code with
// the engine. Semantics it encodes (the engine's side: engine/aligned-window-state.ts,
// engine/session-window-state.ts, engine/window-operator.ts and engine/watermark-tracker.ts):
//  - watermark = max over time of (min over inputs seen so far of (max event time - bound - 1));
//  - an event is checked against the watermark before it, then moves the watermark;
//  - a window [s, e) fires when watermark >= e - 1 and accepts late events while watermark < e - 1 + L;
//  - a late-but-accepted event re-emits its window at once; an event no window accepts is late.

export interface OracleEvent {
  key: string;
  ts: number;
  input: number;
  v: number;
  id: number;
  /** Set on a watermark marker read from the log (not an event): the watermark moves up to it. */
  marker?: number;
}

export interface OracleSpec {
  kind: 'tumbling' | 'sliding' | 'session';
  size: number;
  slide: number;
  offset: number;
  gap: number;
  bound: number;
  lateness: number;
}

export interface Agg {
  count: number;
  sum: number;
  avg: number | null;
  min: number | null;
  max: number | null;
  distinct: number;
  median: number | null;
}

export function aggregate(values: number[]): Agg {
  if (values.length === 0) return { count: 0, sum: 0, avg: null, min: null, max: null, distinct: 0, median: null };
  let sum = 0;
  for (const v of values) sum += v;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = (sorted.length - 1) / 2;
  const median = Number.isInteger(mid) ? sorted[mid]! : sorted[Math.floor(mid)]! + (sorted[Math.ceil(mid)]! - sorted[Math.floor(mid)]!) * 0.5;
  return {
    count: values.length,
    sum,
    avg: sum / values.length,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    distinct: new Set(values).size,
    median,
  };
}

const wid = (key: string, start: number, end: number) => `${key}|${start}|${end}`;

function makeWatermark(bound: number) {
  const maxByInput = new Map<number, number>();
  let wm = -Infinity;
  return {
    get value() {
      return wm;
    },
    observe(input: number, ts: number): number {
      maxByInput.set(input, Math.max(maxByInput.get(input) ?? -Infinity, ts));
      let min = Infinity;
      for (const m of maxByInput.values()) min = Math.min(min, m - bound - 1);
      wm = Math.max(wm, min);
      return wm;
    },
    advance(to: number): number {
      wm = Math.max(wm, to);
      return wm;
    },
  };
}

/** An emission: after which event (index; events.length for the end of input), for which window. */
export interface OracleEmission {
  at: number;
  id: string;
  revision: number;
  values: Agg;
}

/** Aligned windows: every emission with the event that caused it, and the ids of late events. */
export function alignedOracle(events: OracleEvent[], spec: OracleSpec) {
  const windows = new Map<string, { key: string; start: number; end: number; values: number[] }>();
  const emissions: OracleEmission[] = [];
  const revisions = new Map<string, number>();
  const late: number[] = [];
  let at = 0;
  const emit = (id: string, values: number[]) => {
    const revision = (revisions.get(id) ?? -1) + 1;
    revisions.set(id, revision);
    emissions.push({ at, id, revision, values: aggregate(values) });
  };
  const wm = makeWatermark(spec.bound);
  for (const [i, e] of events.entries()) {
    at = i;
    const w = wm.value;
    if (e.marker !== undefined) {
      const after = wm.advance(e.marker);
      for (const [id, win] of windows) if (w < win.end - 1 && win.end - 1 <= after) emit(id, win.values);
      continue;
    }
    let accepted = false;
    for (let s = e.ts - spec.size + 1; s <= e.ts; s++) {
      if ((((s - spec.offset) % spec.slide) + spec.slide) % spec.slide !== 0) continue;
      const end = s + spec.size;
      if (w >= end - 1 + spec.lateness) continue;
      accepted = true;
      const id = wid(e.key, s, end);
      const win = windows.get(id) ?? { key: e.key, start: s, end, values: [] };
      windows.set(id, win);
      win.values.push(e.v);
      if (w >= end - 1) emit(id, win.values);
    }
    if (!accepted) late.push(e.id);
    const before = w;
    const after = wm.observe(e.input, e.ts);
    if (after > before) {
      for (const [id, win] of windows) if (before < win.end - 1 && win.end - 1 <= after) emit(id, win.values);
    }
  }
  at = events.length;
  for (const [id, win] of windows) if (wm.value < win.end - 1) emit(id, win.values);
  return { emissions, late };
}

/**
 * Session windows: what an idempotent sink (upsert results, delete retractions) must show after each
 * event (every session the watermark has passed, closed or not), its final content, and late ids.
 */
export function sessionOracle(events: OracleEvent[], spec: OracleSpec) {
  const live = new Map<string, { start: number; end: number; values: number[] }[]>();
  const final = new Map<string, Agg>();
  const visibleAfter: Map<string, Agg>[] = [];
  const late: number[] = [];
  const wm = makeWatermark(spec.bound);
  for (const e of events) {
    const w = wm.value;
    const sessions = live.get(e.key) ?? [];
    const start = e.ts;
    const end = e.ts + spec.gap;
    const overlapping = sessions.filter((s) => s.start < end && start < s.end);
    const mStart = Math.min(start, ...overlapping.map((s) => s.start));
    const mEnd = Math.max(end, ...overlapping.map((s) => s.end));
    if (w >= mEnd - 1 + spec.lateness) {
      late.push(e.id);
    } else {
      const rest = sessions.filter((s) => !overlapping.includes(s));
      rest.push({ start: mStart, end: mEnd, values: [...overlapping.flatMap((s) => s.values), e.v] });
      live.set(e.key, rest);
    }
    const after = wm.observe(e.input, e.ts);
    for (const [key, list] of live) {
      const keep = list.filter((s) => {
        if (after >= s.end - 1 + spec.lateness) {
          final.set(wid(key, s.start, s.end), aggregate(s.values));
          return false;
        }
        return true;
      });
      live.set(key, keep);
    }
    const visible = new Map(final);
    for (const [key, list] of live) for (const s of list) if (after >= s.end - 1) visible.set(wid(key, s.start, s.end), aggregate(s.values));
    visibleAfter.push(visible);
  }
  for (const [key, list] of live) for (const s of list) final.set(wid(key, s.start, s.end), aggregate(s.values));
  return { final, visibleAfter, late };
}
