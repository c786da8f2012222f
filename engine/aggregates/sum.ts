import { numeric, toGetter, type AggregateFunction, type Extractor } from '../aggregate.ts';

/** Sum of a numeric value; non-numeric and missing values are ignored (SQL `SUM`). */
export function sum<In>(value: Extractor<In, unknown>): AggregateFunction<In, number, number> {
  const get = toGetter(value);
  return {
    create: () => 0,
    add: (acc, input) => {
      const v = numeric(get(input));
      return v === undefined ? acc : acc + v;
    },
    merge: (a, b) => a + b,
    result: (acc) => acc,
  };
}
