import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AggregateFunction } from '../aggregate.ts';
import { decodeSnapshot, encodeSnapshot } from '../snapshot-codec.ts';
import { countBy } from './index.ts';

type Row = { team?: unknown };

function fold<Acc, Out>(agg: AggregateFunction<Row, Acc, Out>, rows: Row[]): Acc {
  let acc = agg.create();
  for (const r of rows) acc = agg.add(acc, r);
  return acc;
}

const rowsArb = fc.array(fc.record({ team: fc.constantFrom('ops', 'Tech 1', 'Tech 2', 'billing', '__proto__', 7, 12, true) }), { maxLength: 60 });

describe('countBy', () => {
  it('counts the inputs of each value', () => {
    fc.assert(
      fc.property(rowsArb, (rows) => {
        const expected = new Map<string, number>();
        for (const r of rows) {
          const k = typeof r.team === 'string' ? r.team : JSON.stringify(r.team);
          expected.set(k, (expected.get(k) ?? 0) + 1);
        }
        const agg = countBy<Row>('team');
        const got = agg.result(fold(agg, rows));
        expect(new Map(Object.entries(got))).toEqual(expected);
        expect(Object.hasOwn(got, '__proto__')).toBe(expected.has('__proto__'));
        expect(Object.values(got).reduce((a, b) => a + b, 0)).toBe(rows.length);
      }),
    );
  });

  it('lists its keys in the same order whatever the order of the inputs', () => {
    fc.assert(
      fc.property(rowsArb, fc.nat(), (rows, seed) => {
        const agg = countBy<Row>('team');
        const shuffled = [...rows].sort((a, b) => ((JSON.stringify(a.team).length * 31 + seed) % 7) - ((JSON.stringify(b.team).length * 31 + seed) % 7));
        expect(JSON.stringify(agg.result(fold(agg, shuffled)))).toBe(JSON.stringify(agg.result(fold(agg, rows))));
      }),
    );
    const agg = countBy<Row>('team');
    expect(Object.keys(agg.result(fold(agg, [{ team: 'b' }, { team: 'a' }, { team: 'c' }, { team: 'a' }])))).toEqual(['a', 'b', 'c']);
  });

  it('gives the same result whether the input is folded at once or in two merged halves', () => {
    fc.assert(
      fc.property(rowsArb, fc.nat(), (rows, cutSeed) => {
        const cut = cutSeed % (rows.length + 1);
        const agg = countBy<Row>('team');
        expect(agg.result(agg.merge(fold(agg, rows.slice(0, cut)), fold(agg, rows.slice(cut))))).toEqual(agg.result(fold(agg, rows)));
      }),
    );
  });

  it('survives a snapshot round trip through save, msgpack and load', () => {
    fc.assert(
      fc.property(rowsArb, fc.nat(), (rows, cutSeed) => {
        const cut = cutSeed % (rows.length + 1);
        const agg = countBy<Row>('team');
        let acc = agg.load!(decodeSnapshot(encodeSnapshot(agg.save!(fold(agg, rows.slice(0, cut))))));
        for (const r of rows.slice(cut)) acc = agg.add(acc, r);
        expect(agg.result(acc)).toEqual(agg.result(fold(agg, rows)));
      }),
    );
  });

  it('skips missing values and does not change an emitted result when more inputs arrive', () => {
    const agg = countBy<Row>('team');
    const acc = fold(agg, [{ team: 'ops' }, {}, { team: null }]);
    const emitted = agg.result(acc);
    agg.add(acc, { team: 'ops' });
    expect(emitted).toEqual({ ops: 1 });
    expect(agg.result(acc)).toEqual({ ops: 2 });
    expect(agg.result(agg.create())).toEqual({});
  });
});
