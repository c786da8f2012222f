// The value of the earliest and of the latest input by event time: the open and close of an OHLC bar.
//
// Ties (two inputs at the same time) go by arrival: `first` keeps the earlier arrival, `last` takes
// the later one, which is what a trader means by the open and close of same-millisecond ticks.
// Arrival within one accumulator is the order of `add`; `merge(a, b)` treats every input of `a` as
// having arrived before every input of `b`, so folding a stream in two halves and merging them gives
// what folding it at once gives. The engine merges accumulators when session windows merge and when it
// assembles a sliding window from its panes; distinct sessions never share an event time, nor do
// distinct panes, so no tie ever crosses an engine merge; arrival order itself is the log's order,
// which a replay after a crash reproduces exactly.
import { numeric, toGetter, type AggregateFunction, type Extractor } from '../aggregate.ts';

/** [event time in epoch ms, value] of the input kept so far; null before the first one. */
export type TimedValue<V> = [number, V] | null;

/**
 * The value of the input with the earliest time (epoch ms); ties keep the first arrival. Inputs whose
 * value is null or missing, or whose time is not a finite number, are ignored. Null for an empty window.
 */
export function first<In, V = unknown>(value: Extractor<In, V>, time: Extractor<In, unknown>): AggregateFunction<In, TimedValue<V>, V | null> {
  return timed(value, time, (kept, candidate) => candidate < kept);
}

/**
 * The value of the input with the latest time (epoch ms); ties take the last arrival. Inputs whose
 * value is null or missing, or whose time is not a finite number, are ignored. Null for an empty window.
 */
export function last<In, V = unknown>(value: Extractor<In, V>, time: Extractor<In, unknown>): AggregateFunction<In, TimedValue<V>, V | null> {
  return timed(value, time, (kept, candidate) => candidate >= kept);
}

/** `replaces(kept, candidate)`: whether a later-arriving input at time `candidate` wins over the one kept. */
function timed<In, V>(
  value: Extractor<In, V>,
  time: Extractor<In, unknown>,
  replaces: (kept: number, candidate: number) => boolean,
): AggregateFunction<In, TimedValue<V>, V | null> {
  const getValue = toGetter(value);
  const getTime = toGetter(time);
  return {
    create: () => null,
    add: (acc, input) => {
      const v = getValue(input);
      const t = numeric(getTime(input));
      if (v === null || v === undefined || t === undefined) return acc;
      return acc === null || replaces(acc[0], t) ? [t, v] : acc;
    },
    // Takes a copy of `b`'s pair, never `b` itself (see merge in aggregate.ts).
    merge: (a, b) => (b === null || (a !== null && !replaces(a[0], b[0])) ? a : [b[0], b[1]]),
    result: (acc) => (acc === null ? null : acc[1]),
  };
}
