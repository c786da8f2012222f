import { ShardflowError } from '../../common/errors.ts';
import { numeric, toGetter, type AggregateFunction, type Extractor } from '../aggregate.ts';

/**
 * Exact percentile of a numeric value, by linear interpolation between the closest ranks (the
 * definition of numpy's default and Spark's `percentile`). Keeps every value of the window, so its
 * state grows with the window's size. Null when the window holds no numeric value.
 */
export function percentile<In>(value: Extractor<In, unknown>, p: number): AggregateFunction<In, number[], number | null> {
  if (!(p >= 0 && p <= 1)) {
    throw new ShardflowError('JOB_INVALID', `percentile(${p}): p must be between 0 and 1, e.g. 0.5 for the median or 0.99`);
  }
  const get = toGetter(value);
  return {
    create: () => [],
    add: (acc, input) => {
      const v = numeric(get(input));
      if (v !== undefined) acc.push(v);
      return acc;
    },
    merge: (a, b) => {
      for (const v of b) a.push(v);
      return a;
    },
    result: (acc) => interpolatedPercentile(acc, p),
    size: (acc) => acc.length,
    grows: (_acc, input) => numeric(get(input)) !== undefined,
  };
}

/** The median: `percentile(value, 0.5)`. */
export function median<In>(value: Extractor<In, unknown>): AggregateFunction<In, number[], number | null> {
  return percentile(value, 0.5);
}

export function interpolatedPercentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const rank = p * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo]!;
  return lo === hi ? a : a + (sorted[hi]! - a) * (rank - lo);
}
