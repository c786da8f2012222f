import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { isShardflowError } from '../common/errors.ts';
import { avg, count, distinctCount, median, sum, topK } from './aggregates/index.ts';
import { session } from './assigners/session.ts';
import { sliding } from './assigners/sliding.ts';
import { tumbling } from './assigners/tumbling.ts';
import type { EngineRecord } from './records.ts';
import { WindowOperator } from './window-operator.ts';
import type { WindowSpec } from './window.ts';

interface Ev {
  key: string;
  ts: number;
  input: number;
  v: number;
  user: string;
}

/** A stream step: an event, or a processing-time tick (idleness detection). */
type Step = { event: Ev } | { tick: number };

const aggregates = () => ({
  n: count<Ev>(),
  total: sum<Ev>('v'),
  mean: avg<Ev>((e) => e.v / 3),
  users: distinctCount<Ev>('user'),
  p50: median<Ev>('v'),
  top: topK<Ev>('user', 2),
});

const windows: [string, WindowSpec][] = [
  ['tumbling', tumbling(10)],
  ['sliding', sliding({ size: 20, slide: 5 })],
  ['session', session(7)],
];

function operator(window: WindowSpec, out: EngineRecord<Ev>[], clock: { now: number }) {
  return new WindowOperator<Ev>({
    window,
    aggregates: aggregates(),
    maxOutOfOrderness: 4,
    allowedLateness: 6,
    idleTimeout: 50,
    clock: () => clock.now,
    emit: (r) => out.push(r),
  });
}

function feed(op: WindowOperator<Ev>, steps: Step[], clock: { now: number }) {
  for (const step of steps) {
    if ('tick' in step) {
      clock.now += step.tick;
      op.onProcessingTime(clock.now);
    } else {
      op.process(step.event.key, step.event.ts, step.event, step.event.input);
    }
  }
}

const stepArb = fc.oneof(
    { weight: 12, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 4 }), back: fc.integer({ min: 0, max: 14 }), key: fc.integer({ min: 0, max: 5 }), v: fc.integer({ min: -5, max: 50 }), input: fc.integer({ min: 0, max: 2 }), user: fc.integer({ min: 0, max: 4 }) }) },
    { weight: 1, arbitrary: fc.record({ tick: fc.integer({ min: 1, max: 40 }) }) },
);
const stepsArb = fc.array(stepArb, { minLength: 1, maxLength: 120 });

function toSteps(raw: ({ tick: number } | { dt: number; back: number; key: number; v: number; input: number; user: number })[]): Step[] {
  let t = 100;
  return raw.map((r) => {
    if ('tick' in r) return r;
    t += r.dt;
    return { event: { key: `k${r.key}`, ts: t - r.back, input: r.input, v: r.v, user: `u${r.user}` } };
  });
}

/** Everything in one engine vs. steps 1..k, snapshot, a fresh engine restored, steps k+1..n. */
function compare(window: WindowSpec, steps: Step[], k: number) {
  const whole: EngineRecord<Ev>[] = [];
  const c1 = { now: 0 };
  const one = operator(window, whole, c1);
  feed(one, steps, c1);
  one.endOfInput();

  const split: EngineRecord<Ev>[] = [];
  const c2 = { now: 0 };
  const before = operator(window, split, c2);
  feed(before, steps.slice(0, k), c2);
  const bytes = before.snapshot();
  const after = operator(window, split, c2);
  after.restore(bytes);
  expect(Buffer.from(after.snapshot()).equals(Buffer.from(bytes))).toBe(true);
  feed(after, steps.slice(k), c2);
  after.endOfInput();

  const packr = new Packr({ useRecords: false });
  expect(Buffer.from(packr.pack(split)).equals(Buffer.from(packr.pack(whole)))).toBe(true);
  expect(after.counters).toEqual(one.counters);
  return whole;
}

describe.each(windows)('a %s operator restored from a snapshot', (_name, window) => {
  it('produces byte-for-byte the results of an uninterrupted run, at random cut points', () => {
    fc.assert(
      fc.property(stepsArb, fc.double({ min: 0, max: 1, noNaN: true }), (raw, cut) => {
        const steps = toSteps(raw);
        compare(window, steps, Math.floor(cut * (steps.length + 1)));
      }),
      { numRuns: 150 },
    );
  });

  it('produces the same results for every cut point of one stream', () => {
    const steps = toSteps(fc.sample(fc.array(stepArb, { minLength: 100, maxLength: 100 }), { numRuns: 1, seed: 42 })[0]!);
    let emitted = 0;
    for (let k = 0; k <= steps.length; k++) emitted = compare(window, steps, k).length;
    expect(emitted).toBeGreaterThan(20);
  });
});

describe('restoring a snapshot', () => {
  it('into a job with another window definition is refused with advice', () => {
    const out: EngineRecord<Ev>[] = [];
    const clock = { now: 0 };
    const a = operator(tumbling(10), out, clock);
    a.process('k', 5, { key: 'k', ts: 5, input: 0, v: 1, user: 'u' });
    const b = operator(tumbling(20), out, clock);
    try {
      b.restore(a.snapshot());
      expect.unreachable();
    } catch (err) {
      expect(isShardflowError(err, 'SNAPSHOT_INCOMPATIBLE')).toBe(true);
      expect(String(err)).toMatch(/tumbling\(size=10ms\).*tumbling\(size=20ms\).*new name/);
    }
  });

  it('of garbage bytes fails with SNAPSHOT_CORRUPT', () => {
    const op = operator(tumbling(10), [], { now: 0 });
    expect(() => op.restore(new Uint8Array([0xc1, 0xff, 0x00]))).toThrow(expect.objectContaining({ code: 'SNAPSHOT_CORRUPT' }));
  });

  it('keeps open windows, watermark and counters', () => {
    const out: EngineRecord<Ev>[] = [];
    const clock = { now: 0 };
    const a = operator(tumbling(10), out, clock);
    for (let i = 0; i < 100; i++) a.process(`k${i % 7}`, i, { key: `k${i % 7}`, ts: i, input: 0, v: i, user: 'u' }, 0);
    const b = operator(tumbling(10), [], clock);
    b.restore(a.snapshot());
    expect(b.watermark).toBe(a.watermark);
    expect(b.openWindows).toBe(a.openWindows);
    expect(b.counters).toEqual(a.counters);
  });
});
