import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alignedOracle, sessionOracle, type OracleEvent, type OracleSpec } from '../test/window-oracle.ts';
import { avg, count, distinctCount, max, median, min, sum } from './aggregates/index.ts';
import { session } from './assigners/session.ts';
import { sliding } from './assigners/sliding.ts';
import { tumbling } from './assigners/tumbling.ts';
import type { EngineRecord } from './records.ts';
import { WindowOperator } from './window-operator.ts';
import type { WindowSpec } from './window.ts';

type Ev = OracleEvent & { inBound: boolean };

const aggregates = {
  count: count<Ev>(),
  sum: sum<Ev>('v'),
  avg: avg<Ev>('v'),
  min: min<Ev>('v'),
  max: max<Ev>('v'),
  distinct: distinctCount<Ev>('v'),
  median: median<Ev>('v'),
};

function windowOf(spec: OracleSpec): WindowSpec {
  if (spec.kind === 'tumbling') return tumbling({ size: spec.size, offset: spec.offset });
  if (spec.kind === 'sliding') return sliding({ size: spec.size, slide: spec.slide, offset: spec.offset });
  return session({ gap: spec.gap });
}

/** Runs the engine; each record is tagged with the index of the event during which it was emitted
 *  (events.length for the end of input). `afterEach` sees the records after every event. */
function run(spec: OracleSpec, events: Ev[], afterEach?: (i: number, out: EngineRecord<Ev>[]) => void): (EngineRecord<Ev> & { at: number })[] {
  const out: (EngineRecord<Ev> & { at: number })[] = [];
  let at = 0;
  const op = new WindowOperator<Ev>({
    window: windowOf(spec),
    aggregates,
    maxOutOfOrderness: spec.bound,
    allowedLateness: spec.lateness,
    emit: (r) => out.push({ ...r, at }),
  });
  for (const [i, e] of events.entries()) {
    at = i;
    op.process(e.key, e.ts, e, e.input);
    afterEach?.(i, out);
  }
  at = events.length;
  op.endOfInput();
  return out;
}

// A keyed stream whose event times trail a growing clock by at most `bound` (in bound, never late),
// with some events far behind it (beyond the bound: late unless their window is still open).
const specArb = (kind: OracleSpec['kind']): fc.Arbitrary<OracleSpec> =>
  fc
    .record({
      slide: fc.integer({ min: 1, max: 20 }),
      factor: fc.integer({ min: 1, max: 5 }),
      offset: fc.integer({ min: 0, max: 30 }),
      gap: fc.integer({ min: 1, max: 25 }),
      bound: fc.integer({ min: 0, max: 15 }),
      lateness: fc.constantFrom(0, 0, 5, 20),
    })
    .map(({ slide, factor, offset, gap, bound, lateness }) => {
      const size = kind === 'sliding' ? slide * factor : slide;
      return { kind, size, slide: kind === 'tumbling' ? size : slide, offset: offset % (kind === 'tumbling' ? size : slide), gap, bound, lateness };
    });

const streamArb = (inputs: number) =>
  fc
    .array(
      fc.record({
        dt: fc.integer({ min: 0, max: 6 }),
        jitter: fc.double({ min: 0, max: 1, noNaN: true }),
        late: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
        lateBy: fc.integer({ min: 1, max: 60 }),
        key: fc.integer({ min: 0, max: 3 }),
        v: fc.integer({ min: 0, max: 9 }),
        input: fc.integer({ min: 0, max: inputs - 1 }),
      }),
      { minLength: 1, maxLength: 150 },
    );

function build(spec: OracleSpec, raw: { dt: number; jitter: number; late: boolean; lateBy: number; key: number; v: number; input: number }[]): Ev[] {
  let t = 1000;
  return raw.map((r, id) => {
    t += r.dt;
    const ts = r.late ? t - spec.bound - r.lateBy : t - Math.floor(r.jitter * spec.bound);
    return { id, key: `k${r.key}`, ts, v: r.v, input: r.input, inBound: !r.late };
  });
}

const byTimeAndWindow = (a: { at: number; id: string; revision: number }, b: { at: number; id: string; revision: number }) =>
  a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) || a.revision - b.revision;

function emissionsOf(records: (EngineRecord<Ev> & { at: number })[]) {
  return records
    .flatMap((r) => (r.type === 'result' ? [{ at: r.at, id: `${r.key}|${r.start}|${r.end}`, revision: r.revision, values: r.values }] : []))
    .sort(byTimeAndWindow);
}

function lateIds(records: EngineRecord<Ev>[]): number[] {
  return records.flatMap((r) => (r.type === 'late' ? [r.value.id] : []));
}

describe.each(['tumbling', 'sliding'] as const)('%s windows', (kind) => {
  it('emit exactly what the brute-force oracle emits, and send late events to the side output', () => {
    fc.assert(
      fc.property(specArb(kind), fc.integer({ min: 1, max: 3 }), streamArb(3), (spec, inputs, raw) => {
        const stream = build(spec, raw.map((r) => ({ ...r, input: r.input % inputs })));
        const records = run(spec, stream);
        const oracle = alignedOracle(stream, spec);
        expect(emissionsOf(records)).toEqual([...oracle.emissions].sort(byTimeAndWindow));
        expect(lateIds(records)).toEqual(oracle.late);
        for (const r of records) if (r.type === 'late') expect(r.value.inBound).toBe(false);
        expect(records.some((r) => r.type === 'retract')).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('session windows', () => {
  it('leave an idempotent sink holding exactly the sessions of the brute-force oracle', () => {
    fc.assert(
      fc.property(specArb('session'), fc.integer({ min: 1, max: 3 }), streamArb(3), (spec, inputs, raw) => {
        const stream = build(spec, raw.map((r) => ({ ...r, input: r.input % inputs })));
        const sink = new Map<string, unknown>();
        const revisions = new Map<string, number>();
        const oracle = sessionOracle(stream, spec);
        let applied = 0;
        const records = run(spec, stream, (i, soFar) => {
          apply(soFar);
          expect(Object.fromEntries(sink)).toEqual(Object.fromEntries(oracle.visibleAfter[i]!));
        });
        apply(records);
        function apply(records: EngineRecord<Ev>[]) {
          for (; applied < records.length; applied++) {
            const r = records[applied]!;
          const id = `${r.key}|${r.type === 'late' ? '' : `${r.start}|${r.end}`}`;
          if (r.type === 'result') {
            expect(r.revision).toBe((revisions.get(id) ?? -1) + 1);
            revisions.set(id, r.revision);
            sink.set(id, r.values);
          } else if (r.type === 'retract') {
            expect(sink.has(id)).toBe(true);
            expect(r.revision).toBe(revisions.get(id));
            sink.delete(id);
            revisions.delete(id);
          }
          }
        }
        expect(Object.fromEntries(sink)).toEqual(Object.fromEntries(oracle.final));
        expect(lateIds(records)).toEqual(oracle.late);
        for (const r of records) if (r.type === 'late') expect(r.value.inBound).toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it('merge two fired sessions bridged by a late event, retracting both earlier results', () => {
    const out: EngineRecord[] = [];
    const op = new WindowOperator<{ v: number }>({
      window: session({ gap: 10 }),
      aggregates: { n: count() },
      allowedLateness: 100,
      emit: (r) => out.push(r),
    });
    op.process('a', 0, { v: 1 });
    op.process('a', 15, { v: 1 });
    op.process('b', 40, { v: 1 }); // watermark 39: both sessions of "a" fire
    op.process('a', 8, { v: 1 }); // bridges [0,10) and [15,25) into [0,25)
    expect(out).toEqual([
      { type: 'result', key: 'a', start: 0, end: 10, values: { n: 1 }, revision: 0 },
      { type: 'result', key: 'a', start: 15, end: 25, values: { n: 1 }, revision: 0 },
      { type: 'retract', key: 'a', start: 0, end: 10, revision: 0 },
      { type: 'retract', key: 'a', start: 15, end: 25, revision: 0 },
      { type: 'result', key: 'a', start: 0, end: 25, values: { n: 3 }, revision: 0 },
    ]);
  });
});

describe('late events', () => {
  it('carry the reason, the watermark and the original event', () => {
    const out: EngineRecord<{ id: string }>[] = [];
    const op = new WindowOperator<{ id: string }>({
      window: tumbling('1m'),
      aggregates: { n: count() },
      maxOutOfOrderness: 5_000,
      emit: (r) => out.push(r),
    });
    op.process('s1', Date.UTC(2026, 0, 1, 0, 2), { id: 'on-time' });
    op.process('s1', Date.UTC(2026, 0, 1, 0, 0, 30), { id: 'too-late' });
    const late = out.find((r) => r.type === 'late');
    expect(late).toMatchObject({
      type: 'late',
      reason: 'window-closed',
      key: 's1',
      eventTime: Date.UTC(2026, 0, 1, 0, 0, 30),
      watermark: Date.UTC(2026, 0, 1, 0, 1, 55) - 1,
      value: { id: 'too-late' },
    });
    expect(late?.type === 'late' && late.message).toMatch(/behind the watermark 2026-01-01T00:01:54.999Z/);
    expect(op.counters).toMatchObject({ eventsIn: 2, late: 1 });
  });

  it('within the allowed lateness update the window again with a new revision', () => {
    const out: EngineRecord[] = [];
    const op = new WindowOperator<number>({ window: tumbling(10), aggregates: { s: sum((v: number) => v) }, allowedLateness: 20, emit: (r) => out.push(r) });
    op.process('k', 5, 1);
    op.process('k', 12, 1); // fires [0,10)
    op.process('k', 7, 2); // late, within lateness
    op.process('k', 40, 1); // cleans [0,10) up
    op.process('k', 8, 5); // too late now
    expect(out.slice(0, 2)).toEqual([
      { type: 'result', key: 'k', start: 0, end: 10, values: { s: 1 }, revision: 0 },
      { type: 'result', key: 'k', start: 0, end: 10, values: { s: 3 }, revision: 1 },
    ]);
    expect(out.at(-1)).toMatchObject({ type: 'late', reason: 'window-closed', eventTime: 8 });
  });

  it('with an unusable event time are rejected with a reason instead of throwing', () => {
    const out: EngineRecord[] = [];
    const op = new WindowOperator<number>({ window: tumbling(10), aggregates: { n: count() }, emit: (r) => out.push(r) });
    op.process('k', Number.NaN, 1);
    op.process('k', Infinity, 1);
    expect(out.map((r) => r.type === 'late' && r.reason)).toEqual(['invalid-event-time', 'invalid-event-time']);
  });
});
