import { StateBudget, UNLIMITED } from './state-budget.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alignedOracle, type OracleEvent, type OracleSpec } from '../test/window-oracle.ts';
import { AggregateSet } from './aggregate-set.ts';
import { avg, count, distinctCount, max, median, min, sum } from './aggregates/index.ts';
import { AlignedWindowState } from './aligned-window-state.ts';
import { sliding } from './assigners/sliding.ts';
import { tumbling } from './assigners/tumbling.ts';
import type { EngineRecord, WindowResult } from './records.ts';
import { encodeSnapshot } from './snapshot-codec.ts';
import { WindowOperator } from './window-operator.ts';
import type { AlignedWindows } from './window.ts';

type Ev = OracleEvent;
type Tagged = EngineRecord<Ev> & { at: number };

const aggregates = () => ({
  count: count<Ev>(),
  sum: sum<Ev>('v'),
  avg: avg<Ev>('v'),
  min: min<Ev>('v'),
  max: max<Ev>('v'),
  distinct: distinctCount<Ev>('v'),
  median: median<Ev>('v'),
});

const windowOf = (spec: OracleSpec): AlignedWindows =>
  spec.kind === 'tumbling' ? tumbling({ size: spec.size, offset: spec.offset }) : sliding({ size: spec.size, slide: spec.slide, offset: spec.offset });

/**
 * Runs the operator over the events, restoring a fresh operator from a snapshot before each index in
 * `cuts`. Each record is tagged with the index of the event during which it was emitted.
 */
function run(spec: OracleSpec, events: Ev[], cuts: number[] = []): Tagged[] {
  const out: Tagged[] = [];
  let at = 0;
  const make = () =>
    new WindowOperator<Ev>({
      window: windowOf(spec),
      aggregates: aggregates(),
      maxOutOfOrderness: spec.bound,
      allowedLateness: spec.lateness,
      emit: (r) => out.push({ ...r, at }),
    });
  let op = make();
  for (const [i, e] of events.entries()) {
    at = i;
    if (cuts.includes(i)) {
      const next = make();
      next.restore(op.snapshot());
      op = next;
    }
    if (e.marker !== undefined) op.advanceWatermark(e.marker);
    else op.process(e.key, e.ts, e, e.input);
  }
  at = events.length;
  if (cuts.includes(events.length)) {
    const next = make();
    next.restore(op.snapshot());
    op = next;
  }
  op.endOfInput();
  return out;
}

// Sizes that are 1 to 6 slides, and some that are not a multiple of the slide at all (panes are then
// gcd(size, slide) wide); tumbling windows are the case size == slide.
const specArb: fc.Arbitrary<OracleSpec> = fc
  .record({
    tumbling: fc.boolean(),
    slide: fc.integer({ min: 1, max: 12 }),
    factor: fc.integer({ min: 1, max: 6 }),
    extra: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 11 }) }),
    offset: fc.integer({ min: 0, max: 30 }),
    bound: fc.integer({ min: 0, max: 15 }),
    lateness: fc.constantFrom(0, 3, 10, 40),
  })
  .map(({ tumbling, slide, factor, extra, offset, bound, lateness }): OracleSpec => {
    const size = tumbling ? slide : slide * factor + (extra % slide);
    const step = tumbling ? size : slide;
    return { kind: tumbling ? 'tumbling' : 'sliding', size, slide: step, offset: offset % step, gap: 0, bound, lateness };
  });

// Event times trail a growing clock by up to `bound`; some events are far behind (late, or late but
// still within the allowed lateness); a few steps are watermark markers read from the log.
const stepsArb = fc.array(
  fc.record({
    dt: fc.integer({ min: 0, max: 5 }),
    jitter: fc.double({ min: 0, max: 1, noNaN: true }),
    kind: fc.constantFrom('event', 'event', 'event', 'event', 'event', 'event', 'late', 'marker'),
    lateBy: fc.integer({ min: 1, max: 50 }),
    key: fc.integer({ min: 0, max: 4 }),
    v: fc.integer({ min: 0, max: 9 }),
    input: fc.integer({ min: 0, max: 2 }),
  }),
  { minLength: 1, maxLength: 120 },
);

type RawStep = { dt: number; jitter: number; kind: string; lateBy: number; key: number; v: number; input: number };

function build(spec: OracleSpec, inputs: number, raw: RawStep[]): Ev[] {
  let t = 1000;
  return raw.map((r, id) => {
    t += r.dt;
    const ts = r.kind === 'late' ? t - spec.bound - r.lateBy : t - Math.floor(r.jitter * spec.bound);
    const e: Ev = { id, key: `k${r.key}`, ts, v: r.v, input: r.input % inputs };
    if (r.kind === 'marker') e.marker = t - spec.bound - Math.floor(r.jitter * 10);
    return e;
  });
}

const results = (records: Tagged[]) => records.filter((r): r is WindowResult & { at: number } => r.type === 'result');
const byTimeAndWindow = (a: { at: number; id: string; revision: number }, b: { at: number; id: string; revision: number }) =>
  a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) || a.revision - b.revision;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Checks the firing order: windows by end then start within one step; within one window, keys by
 *  the first pane (in time order) that holds them, then by their first arrival in that pane. */
function expectFiringOrder(spec: OracleSpec, events: Ev[], late: Set<number>, records: Tagged[]): void {
  const rs = results(records);
  for (let i = 1; i < rs.length; i++) {
    const a = rs[i - 1]!;
    const b = rs[i]!;
    if (a.at === b.at) expect(a.end < b.end || (a.end === b.end && a.start <= b.start)).toBe(true);
  }
  const width = gcd(spec.size, spec.slide);
  const paneOf = (ts: number) => ts - ((((ts - spec.offset) % width) + width) % width);
  for (let i = 0; i < rs.length; ) {
    let j = i + 1;
    while (j < rs.length && rs[j]!.at === rs[i]!.at && rs[j]!.start === rs[i]!.start) j++;
    const { at, start, end } = rs[i]!;
    if (rs[i]!.revision === 0 && j - i > 1) {
      // First arrival of each key in each pane of the window, among the events accepted so far.
      const rank = new Map<string, [number, number]>();
      for (const e of events.slice(0, at + 1)) {
        if (e.marker !== undefined || late.has(e.id) || e.ts < start || e.ts >= end) continue;
        const pane = paneOf(e.ts);
        const seen = rank.get(e.key);
        if (seen === undefined || pane < seen[0]) rank.set(e.key, [pane, e.id]);
      }
      const expected = [...rank].sort((x, y) => x[1][0] - y[1][0] || x[1][1] - y[1][1]).map(([k]) => k);
      expect(rs.slice(i, j).map((r) => r.key)).toEqual(expected);
    }
    i = j;
  }
}

describe('aligned windows kept as panes', () => {
  it('emit what the brute-force oracle emits, in a deterministic order, also when restored from snapshots at any points', () => {
    fc.assert(
      fc.property(specArb, fc.integer({ min: 1, max: 3 }), stepsArb, fc.array(fc.nat(), { maxLength: 3 }), (spec, inputs, raw, cutSeeds) => {
        const events = build(spec, inputs, raw);
        const whole = run(spec, events);
        const oracle = alignedOracle(events, spec);
        const emissions = results(whole).map((r) => ({ at: r.at, id: `${r.key}|${r.start}|${r.end}`, revision: r.revision, values: r.values }));
        expect(emissions.sort(byTimeAndWindow)).toEqual([...oracle.emissions].sort(byTimeAndWindow));
        expect(whole.flatMap((r) => (r.type === 'late' ? [r.value.id] : []))).toEqual(oracle.late);
        expectFiringOrder(spec, events, new Set(oracle.late), whole);

        const cuts = cutSeeds.map((c) => c % (events.length + 1));
        expect(run(spec, events, cuts)).toEqual(whole);
      }),
      { numRuns: 400 },
    );
  });

  it('merge a window from its panes in pane order, keys in order of first appearance pane by pane', () => {
    const out: EngineRecord<string>[] = [];
    const op = new WindowOperator<string>({ window: sliding({ size: 20, slide: 10 }), aggregates: { n: count() }, emit: (r) => out.push(r) });
    for (const [key, ts] of [['b', 1], ['a', 2], ['c', 11], ['a', 12], ['d', 13]] as const) op.process(key, ts, key);
    op.endOfInput();
    expect(out.map((r) => r.type === 'result' && `[${r.start},${r.end}) ${r.key}=${String(r.values.n)}`)).toEqual([
      '[-10,10) b=1',
      '[-10,10) a=1',
      '[0,20) b=1',
      '[0,20) a=2',
      '[0,20) c=1',
      '[0,20) d=1',
      '[10,30) c=1',
      '[10,30) a=1',
      '[10,30) d=1',
    ]);
  });

  it('give revision 0 to a late update of a window that fired without its key, then count up', () => {
    const out: EngineRecord<number>[] = [];
    const op = new WindowOperator<number>({ window: sliding({ size: 20, slide: 10 }), aggregates: { s: sum((v: number) => v) }, allowedLateness: 15, emit: (r) => out.push(r) });
    op.process('a', 5, 1);
    op.process('a', 25, 1); // watermark 24: [-10,10) and [0,20) fire with "a" only
    out.length = 0;
    op.process('b', 12, 2); // late for [0,20) (fired, not cleaned up); [10,30) is still open
    op.process('b', 14, 3);
    op.process('a', 40, 1); // watermark 39: [0,20) is cleaned up, [10,30) fires
    op.process('b', 15, 4); // too late for [0,20) now, still updates [10,30)
    expect(out.map((r) => (r.type === 'result' ? `[${r.start},${r.end}) ${r.key} s=${String(r.values.s)} rev ${r.revision}` : r.type))).toEqual([
      '[0,20) b s=2 rev 0',
      '[0,20) b s=5 rev 1',
      '[10,30) b s=5 rev 0',
      '[10,30) a s=1 rev 0',
      '[20,40) a s=1 rev 0',
      '[10,30) b s=9 rev 1',
    ]);
  });

  it('refuse a checkpoint of the first snapshot format as corrupt', () => {
    const op = new WindowOperator<number>({ window: tumbling(10), aggregates: { n: count() }, emit: () => {} });
    const old = encodeSnapshot({ format: 1, window: 'tumbling(size=10ms)', aggregates: ['n'], watermark: {}, counters: {}, state: [] });
    expect(() => op.restore(old)).toThrow(expect.objectContaining({ code: 'SNAPSHOT_CORRUPT' }));
  });
});

describe('the aligned window state', () => {
  function state(spec: AlignedWindows, allowedLateness: number) {
    const out: EngineRecord<number>[] = [];
    const aggs = new AggregateSet<number>({ n: count() });
    return { out, state: new AlignedWindowState(spec, aggs, allowedLateness, (r) => out.push(r), new StateBudget(UNLIMITED, 0)) };
  }

  it('counts (key, pane) entries as open windows, once per pane however many windows share it', () => {
    const { state: s } = state(sliding({ size: 30, slide: 10 }), 0);
    s.add('a', 1, 1, -Infinity);
    s.add('a', 2, 1, -Infinity);
    s.add('b', 3, 1, -Infinity);
    s.add('a', 12, 1, -Infinity);
    expect(s.openWindows).toBe(3);
    s.fireDue(Infinity);
    expect(s.openWindows).toBe(0);
    expect(s.nextDue).toBe(Infinity);
  });

  it('announces each firing and cleanup as nextDue, and keeps revisions only within the allowed lateness', () => {
    const { out, state: s } = state(sliding({ size: 3, slide: 1 }), 2);
    expect(s.nextDue).toBe(Infinity);
    s.add('k', 5, 1, -Infinity); // pane [5,6) in windows [3,6), [4,7), [5,8)
    const steps: [number, number, number][] = [];
    for (const wm of [5, 6, 7, 8, 9]) {
      s.fireDue(wm);
      steps.push([wm, out.length, s.nextDue]);
    }
    // [wm, results so far, nextDue]: fires at 5, 6, 7; [3,6) cleaned at 7, [4,7) at 8, [5,8) and the pane at 9.
    expect(steps).toEqual([
      [5, 1, 6],
      [6, 2, 7],
      [7, 3, 8],
      [8, 3, 9],
      [9, 3, Infinity],
    ]);
    expect(s.save()).toEqual({ firedUpTo: 9, panes: [], revisions: [] });
  });

  it('keeps no revisions without allowed lateness', () => {
    const { out, state: s } = state(sliding({ size: 30, slide: 10 }), 0);
    for (let t = 0; t < 50; t += 3) s.add(`k${t % 4}`, t, 1, -Infinity);
    s.fireDue(29);
    expect(out.length).toBeGreaterThan(0);
    expect((s.save() as { revisions: unknown[] }).revisions).toEqual([]);
  });
});
