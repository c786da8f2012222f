import { ShardflowError } from '../../common/errors.ts';
import { toGetter, type AggregateFunction, type Extractor } from '../aggregate.ts';

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
  const get = toGetter(value);
  return {
    create: () => new Map(),
    add: (acc, input) => {
      const v = get(input);
      if (v !== null && v !== undefined) {
        const item = typeof v === 'string' ? v : JSON.stringify(v);
        acc.set(item, (acc.get(item) ?? 0) + 1);
      }
      return acc;
    },
    merge: (a, b) => {
      for (const [item, n] of b) a.set(item, (a.get(item) ?? 0) + n);
      return a;
    },
    result: (acc) =>
      [...acc]
        .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
        .slice(0, k)
        .map(([item, n]) => ({ value: item, count: n })),
    save: (acc) => [...acc],
    load: (saved) => new Map(saved as [string, number][]),
  };
}
