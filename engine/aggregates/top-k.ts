import { ShardflowError } from '../../common/errors.ts';
import type { AggregateFunction, Extractor } from '../aggregate.ts';
import { countBy } from './count-by.ts';

export interface TopKEntry {
  value: string;
  count: number;
}

/**
 * The k most frequent values with their counts, most frequent first; ties broken by value so the
 * result is deterministic. Exact: counts every distinct value of the window.
 */
export function topK<In>(value: Extractor<In, unknown>, k: number): AggregateFunction<In, Map<string, number>, TopKEntry[]> {
  if (!Number.isInteger(k) || k < 1) {
    throw new ShardflowError('JOB_INVALID', `topK(${k}): k must be a whole number >= 1`);
  }
  // The same exact per-value counts as countBy, ranked instead of listed.
  const counts = countBy(value);
  return {
    ...counts,
    result: (acc) =>
      [...acc]
        .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
        .slice(0, k)
        .map(([item, n]) => ({ value: item, count: n })),
  };
}
