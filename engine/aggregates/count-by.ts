import { toGetter, type AggregateFunction, type Extractor } from '../aggregate.ts';

/**
 * How many inputs have each value (Spark's `groupBy(col).count()` inside one window), as a plain
 * object value -> count. Keys are inserted in sorted order so the same window always gives the same
 * JSON; note that JavaScript lists integer-like keys ("9", "10") first in numeric order whatever the
 * insertion order, which keeps hours and days readable. Strings are used as they are, other values
 * as their JSON text; null and missing values are not counted. Exact: keeps every distinct value of
 * the window, so its state grows with their number.
 */
export function countBy<In>(value: Extractor<In, unknown>): AggregateFunction<In, Map<string, number>, Record<string, number>> {
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
    result: (acc) => Object.fromEntries([...acc].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))),
    save: (acc) => [...acc],
    load: (saved) => new Map(saved as [string, number][]),
    size: (acc) => acc.size,
    grows: (acc, input) => {
      const v = get(input);
      return v !== null && v !== undefined && !acc.has(typeof v === 'string' ? v : JSON.stringify(v));
    },
  };
}
