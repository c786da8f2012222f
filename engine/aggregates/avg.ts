import { numeric, toGetter, type AggregateFunction, type Extractor } from '../aggregate.ts';

/** [sum, count] of the numeric values seen. */
type AvgAcc = [number, number];

/** Mean of a numeric value; null when the window holds no numeric value (SQL `AVG`). */
export function avg<In>(value: Extractor<In, unknown>): AggregateFunction<In, AvgAcc, number | null> {
  const get = toGetter(value);
  return {
    create: () => [0, 0],
    add: (acc, input) => {
      const v = numeric(get(input));
      if (v !== undefined) {
        acc[0] += v;
        acc[1] += 1;
      }
      return acc;
    },
    merge: (a, b) => {
      a[0] += b[0];
      a[1] += b[1];
      return a;
    },
    result: (acc) => (acc[1] === 0 ? null : acc[0] / acc[1]),
  };
}
