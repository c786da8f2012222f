import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AggregateFunction } from '../aggregate.ts';
import { avg, count, distinctCount, max, median, min, percentile, sum, topK } from './index.ts';

type Row = { v?: unknown; u?: unknown };

function fold<Acc, Out>(agg: AggregateFunction<Row, Acc, Out>, rows: Row[]): Acc {
  let acc = agg.create();
  for (const r of rows) acc = agg.add(acc, r);
  return acc;
}

const rowsArb = fc.array(fc.record({ v: fc.integer({ min: -1000, max: 1000 }), u: fc.constantFrom('a', 'b', 'c', 'd', 'e') }), { maxLength: 60 });

const all = () => ({
  count: count<Row>(),
  sum: sum<Row>('v'),
  avg: avg<Row>('v'),
  min: min<Row>('v'),
  max: max<Row>('v'),
  distinct: distinctCount<Row>('u'),
  median: median<Row>('v'),
  p90: percentile<Row>('v', 0.9),
  top: topK<Row>('u', 3),
});

describe('built-in aggregates', () => {
  it('give the same result whether the input is folded at once or in two merged halves', () => {
    fc.assert(
      fc.property(rowsArb, fc.nat(), (rows, cutSeed) => {
        const cut = rows.length === 0 ? 0 : cutSeed % (rows.length + 1);
        for (const agg of Object.values(all()) as AggregateFunction<Row, unknown, unknown>[]) {
          const whole = agg.result(fold(agg, rows));
          const merged = agg.result(agg.merge(fold(agg, rows.slice(0, cut)), fold(agg, rows.slice(cut))));
          expect(merged).toEqual(whole);
        }
      }),
    );
  });

  it('match straightforward definitions', () => {
    fc.assert(
      fc.property(rowsArb, (rows) => {
        const vs = rows.map((r) => r.v as number);
        const sorted = [...vs].sort((a, b) => a - b);
        const a = all();
        expect(a.count.result(fold(a.count, rows))).toBe(rows.length);
        expect(a.sum.result(fold(a.sum, rows))).toBe(vs.reduce((x, y) => x + y, 0));
        expect(a.avg.result(fold(a.avg, rows))).toBe(vs.length ? vs.reduce((x, y) => x + y, 0) / vs.length : null);
        expect(a.min.result(fold(a.min, rows))).toBe(vs.length ? sorted[0] : null);
        expect(a.max.result(fold(a.max, rows))).toBe(vs.length ? sorted.at(-1) : null);
        expect(a.distinct.result(fold(a.distinct, rows))).toBe(new Set(rows.map((r) => r.u)).size);
        if (vs.length % 2 === 1) expect(a.median.result(fold(a.median, rows))).toBe(sorted[(vs.length - 1) / 2]);
        const counts = new Map<string, number>();
        for (const r of rows) counts.set(r.u as string, (counts.get(r.u as string) ?? 0) + 1);
        const top = a.top.result(fold(a.top, rows));
        expect(top.length).toBe(Math.min(3, counts.size));
        for (const { value, count: n } of top) expect(counts.get(value)).toBe(n);
        const least = Math.min(...top.map((t) => t.count));
        for (const [u, n] of counts) if (!top.some((t) => t.value === u)) expect(n).toBeLessThanOrEqual(least);
      }),
    );
  });

  it('ignore missing and non-numeric values like SQL does, while count counts every row', () => {
    const rows: Row[] = [{ v: 4 }, { v: null }, {}, { v: 'x' }, { v: Number.NaN }, { v: 8 }];
    const a = all();
    expect(a.count.result(fold(a.count, rows))).toBe(6);
    expect(a.sum.result(fold(a.sum, rows))).toBe(12);
    expect(a.avg.result(fold(a.avg, rows))).toBe(6);
    expect(a.median.result(fold(a.median, rows))).toBe(6);
    expect(a.avg.result(fold(a.avg, []))).toBeNull();
    expect(a.min.result(fold(a.min, [{}]))).toBeNull();
  });

  it('interpolate percentiles between ranks', () => {
    const p = percentile<Row>('v', 0.25);
    expect(p.result(fold(p, [1, 2, 3, 4].map((v) => ({ v }))))).toBe(1.75);
  });

  it('reject impossible parameters with advice', () => {
    expect(() => percentile<Row>('v', 1.5)).toThrow(/between 0 and 1/);
    expect(() => topK<Row>('u', 0)).toThrow(/whole number >= 1/);
  });
});
