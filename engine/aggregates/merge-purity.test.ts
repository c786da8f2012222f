import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AggregateFunction } from '../aggregate.ts';
import { avg, count, countBy, distinctCount, first, last, max, median, min, percentile, sum, topK } from './index.ts';

// A sliding window's result merges the accumulators of its panes, and each pane is merged again into
// the next windows while it keeps receiving inputs: merge(a, b) must leave b as it was, and what it
// returns must not share anything with b that a later add or merge would change.

type Row = { v?: unknown; u?: unknown; t?: unknown };

const builtIns = (): Record<string, AggregateFunction<Row, unknown, unknown>> => ({
  count: count<Row>(),
  sum: sum<Row>('v'),
  avg: avg<Row>('v'),
  min: min<Row>('v'),
  max: max<Row>('v'),
  distinctCount: distinctCount<Row>('u'),
  median: median<Row>('v'),
  percentile: percentile<Row>('v', 0.9),
  topK: topK<Row>('u', 2),
  first: first<Row>('v', 't'),
  last: last<Row>('v', 't'),
  countBy: countBy<Row>('u'),
});

function fold<Acc>(agg: AggregateFunction<Row, Acc, unknown>, rows: Row[], acc = agg.create()): Acc {
  for (const r of rows) acc = agg.add(acc, r);
  return acc;
}

const rowArb = fc.record({ v: fc.integer({ min: -100, max: 100 }), u: fc.constantFrom('a', 'b', 'c', 'd'), t: fc.integer({ min: 0, max: 10 }) });
const rowsArb = fc.array(rowArb, { maxLength: 20 });

describe('merge of every built-in aggregate', () => {
  it('never changes b, neither while merging nor when the merged result takes more inputs and merges', () => {
    fc.assert(
      fc.property(rowsArb, rowsArb, rowsArb, fc.boolean(), (aRows, bRows, later, freshA) => {
        for (const [name, agg] of Object.entries(builtIns())) {
          // The engine merges a pane into a fresh accumulator; sessions merge two filled ones.
          const a = freshA ? agg.create() : fold(agg, aRows);
          const b = fold(agg, bRows);
          const before = structuredClone(b);
          let merged = agg.merge(a, b);
          expect(b, name).toEqual(before);
          merged = fold(agg, later, merged);
          merged = agg.merge(merged, fold(agg, later));
          agg.result(merged);
          expect(b, name).toEqual(before);
          if (typeof b === 'object' && b !== null) expect(merged, name).not.toBe(b);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('leaves b usable as a pane: b keeps taking inputs and gives the same windows as folding them', () => {
    fc.assert(
      fc.property(rowsArb, rowsArb, rowsArb, (paneA, paneB, paneBLater) => {
        for (const [name, agg] of Object.entries(builtIns())) {
          const a = fold(agg, paneA);
          let b = fold(agg, paneB);
          const first = agg.merge(agg.merge(agg.create(), a), b);
          const firstResult = structuredClone(agg.result(first));
          b = fold(agg, paneBLater, b);
          // The window merged earlier does not see the inputs b took afterwards...
          expect(agg.result(first), name).toEqual(firstResult);
          // ...and the next window over b sees all of them.
          const next = agg.merge(agg.create(), b);
          expect(agg.result(next), name).toEqual(agg.result(fold(agg, [...paneB, ...paneBLater])));
        }
      }),
      { numRuns: 200 },
    );
  });
});
