import type { AggregateFunction } from '../aggregate.ts';

/** Number of inputs in the window (every input counts, like SQL `COUNT(*)`). */
export function count<In = unknown>(): AggregateFunction<In, number, number> {
  return {
    create: () => 0,
    add: (acc) => acc + 1,
    merge: (a, b) => a + b,
    result: (acc) => acc,
  };
}
