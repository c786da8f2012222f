import { numeric, toGetter, type AggregateFunction, type Extractor } from '../aggregate.ts';

function extreme<In>(value: Extractor<In, unknown>, pick: (a: number, b: number) => number): AggregateFunction<In, number | null, number | null> {
  const get = toGetter(value);
  return {
    create: () => null,
    add: (acc, input) => {
      const v = numeric(get(input));
      if (v === undefined) return acc;
      return acc === null ? v : pick(acc, v);
    },
    merge: (a, b) => (a === null ? b : b === null ? a : pick(a, b)),
    result: (acc) => acc,
  };
}

/** Smallest numeric value; null when there is none. */
export function min<In>(value: Extractor<In, unknown>): AggregateFunction<In, number | null, number | null> {
  return extreme(value, Math.min);
}

/** Largest numeric value; null when there is none. */
export function max<In>(value: Extractor<In, unknown>): AggregateFunction<In, number | null, number | null> {
  return extreme(value, Math.max);
}
