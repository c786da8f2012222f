import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AggregateFunction } from '../aggregate.ts';
import { session } from '../assigners/session.ts';
import type { WindowResult } from '../records.ts';
import { decodeSnapshot, encodeSnapshot } from '../snapshot-codec.ts';
import { WindowOperator } from '../window-operator.ts';
import { first, last } from './index.ts';

type Tick = { id: number; t?: unknown; v?: unknown };

function fold<Acc, Out>(agg: AggregateFunction<Tick, Acc, Out>, rows: Tick[]): Acc {
  let acc = agg.create();
  for (const r of rows) acc = agg.add(acc, r);
  return acc;
}

// Few distinct times, so that ties are common.
const ticksArb = fc
  .array(fc.record({ t: fc.integer({ min: 0, max: 8 }), v: fc.integer({ min: -50, max: 50 }) }), { maxLength: 40 })
  .map((rows) => rows.map((r, id): Tick => ({ id, ...r })));

const open = () => first<Tick, unknown>('v', 't');
const close = () => last<Tick, unknown>('v', 't');

/** The definition, by brute force over arrival positions. */
function expectedFirst(rows: Tick[]): unknown {
  let best: Tick | undefined;
  for (const r of rows) if (best === undefined || (r.t as number) < (best.t as number)) best = r;
  return best === undefined ? null : best.v;
}
function expectedLast(rows: Tick[]): unknown {
  let best: Tick | undefined;
  for (const r of rows) if (best === undefined || (r.t as number) >= (best.t as number)) best = r;
  return best === undefined ? null : best.v;
}

describe('first and last by event time', () => {
  it('pick the earliest and the latest input, ties going to the first and to the last arrival', () => {
    fc.assert(
      fc.property(ticksArb, (rows) => {
        expect(open().result(fold(open(), rows))).toBe(expectedFirst(rows));
        expect(close().result(fold(close(), rows))).toBe(expectedLast(rows));
      }),
    );
    const ties: Tick[] = [{ id: 0, t: 5, v: 'a' }, { id: 1, t: 5, v: 'b' }, { id: 2, t: 5, v: 'c' }];
    expect(open().result(fold(open(), ties))).toBe('a');
    expect(close().result(fold(close(), ties))).toBe('c');
  });

  it('give the same result when the arrivals are cut into consecutive pieces that are merged in order', () => {
    fc.assert(
      fc.property(ticksArb, fc.array(fc.nat(), { maxLength: 4 }), (rows, cutSeeds) => {
        const cuts = [...new Set(cutSeeds.map((c) => c % (rows.length + 1)))].sort((a, b) => a - b);
        const bounds = [0, ...cuts, rows.length];
        for (const agg of [open(), close()]) {
          let acc = agg.create();
          for (let i = 1; i < bounds.length; i++) acc = agg.merge(acc, fold(agg, rows.slice(bounds[i - 1], bounds[i])));
          expect(agg.result(acc)).toBe(agg.result(fold(agg, rows)));
        }
      }),
    );
  });

  it('survive a snapshot round trip in the middle of a window', () => {
    fc.assert(
      fc.property(ticksArb, fc.nat(), (rows, cutSeed) => {
        const cut = cutSeed % (rows.length + 1);
        for (const agg of [open(), close()]) {
          let acc = decodeSnapshot(encodeSnapshot(fold(agg, rows.slice(0, cut)))) as ReturnType<typeof agg.create>;
          for (const r of rows.slice(cut)) acc = agg.add(acc, r);
          expect(agg.result(acc)).toBe(agg.result(fold(agg, rows)));
        }
      }),
    );
  });

  it('ignore inputs without a value or with a time that is not a finite number, and give null for none', () => {
    const rows: Tick[] = [{ id: 0, t: 3, v: null }, { id: 1, t: '2', v: 9 }, { id: 2, t: Number.NaN, v: 8 }, { id: 3, v: 7 }, { id: 4, t: 4, v: 6 }, { id: 5, t: 9 }];
    expect(open().result(fold(open(), rows))).toBe(6);
    expect(close().result(fold(close(), rows))).toBe(6);
    expect(open().result(open().create())).toBeNull();
    expect(close().result(fold(close(), [{ id: 0, t: 1 }]))).toBeNull();
  });

  it('stay right when session windows merge, before and after a restore of the operator', () => {
    const gap = 3;
    // Times arrive in any order, so later events bridge sessions that were apart.
    const streamArb = fc.array(fc.record({ t: fc.integer({ min: 0, max: 40 }), v: fc.integer({ min: 0, max: 99 }) }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(streamArb, fc.nat(), (stream, cutSeed) => {
        const rows = stream.map((r, id): Tick => ({ id, ...r }));
        const aggregates = { open: open(), close: close() };
        const results: WindowResult[] = [];
        const make = () =>
          new WindowOperator<Tick>({ window: session(gap), aggregates, maxOutOfOrderness: 1_000, emit: (r) => r.type === 'result' && results.push(r) });
        const cut = cutSeed % (rows.length + 1);
        const before = make();
        for (const r of rows.slice(0, cut)) before.process('k', r.t as number, r);
        const after = make();
        after.restore(before.snapshot());
        for (const r of rows.slice(cut)) after.process('k', r.t as number, r);
        after.endOfInput();

        // Sessions by brute force: sort the times and split where the gap is reached.
        const times = [...new Set(rows.map((r) => r.t as number))].sort((a, b) => a - b);
        const sessions: Tick[][] = [];
        let prev = -Infinity;
        for (const t of times) {
          if (t - prev >= gap) sessions.push([]);
          sessions.at(-1)!.push(...rows.filter((r) => r.t === t));
          prev = t;
        }
        const expected = sessions.map((members) => {
          const inArrival = [...members].sort((a, b) => a.id - b.id);
          return { open: expectedFirst(inArrival), close: expectedLast(inArrival) };
        });
        expect(results.map((r) => r.values)).toEqual(expected);
      }),
    );
  });
});
