import { toGetter, type AggregateFunction, type Extractor } from '../aggregate.ts';

type Distinct = string | number | boolean;

/**
 * Exact number of distinct values (e.g. unique users). Keeps the set of values seen, so its state
 * grows with the cardinality per window. Missing values (null, undefined) are not counted.
 */
export function distinctCount<In>(value: Extractor<In, unknown>): AggregateFunction<In, Set<Distinct>, number> {
  const get = toGetter(value);
  return {
    create: () => new Set(),
    add: (acc, input) => {
      const v = get(input);
      if (v !== null && v !== undefined) acc.add(typeof v === 'object' ? JSON.stringify(v) : (v as Distinct));
      return acc;
    },
    merge: (a, b) => {
      for (const v of b) a.add(v);
      return a;
    },
    result: (acc) => acc.size,
    save: (acc) => [...acc],
    load: (saved) => new Set(saved as Distinct[]),
    size: (acc) => acc.size,
    grows: (acc, input) => {
      const v = get(input);
      return v !== null && v !== undefined && !acc.has(typeof v === 'object' ? JSON.stringify(v) : (v as Distinct));
    },
  };
}
