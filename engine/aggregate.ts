// The aggregate function contract (Flink's AggregateFunction): partial aggregates can be created,
// fed one input at a time, merged with each other, and turned into a result. Accumulators live in
// window state and are part of every snapshot, so they must survive a round trip through msgpack:
// either plain data (numbers, strings, arrays, plain objects) or converted by `save` / `load`.

export interface AggregateFunction<In, Acc, Out> {
  /** A fresh accumulator for an empty window. */
  create(): Acc;
  /** Adds one input. May mutate `acc` in place; must return the accumulator to keep. */
  add(acc: Acc, input: In): Acc;
  /**
   * Combines two partial aggregates: sessions that merge, and a sliding window assembled from its
   * panes. Merge may mutate `a`, never `b`; the result must not share mutable state with `b` (return
   * a copy where the result is `b`'s value): `b` is a pane's accumulator, which keeps receiving inputs
   * and is merged again into the next window that covers the pane.
   */
  merge(a: Acc, b: Acc): Acc;
  /** The value written to the sink. Must not mutate `acc`: a window can fire again on a late update. */
  result(acc: Acc): Out;
  /** Converts an accumulator to msgpack-friendly data for a snapshot (default: as is). */
  save?(acc: Acc): unknown;
  /** Rebuilds an accumulator from what `save` returned (default: as is). */
  load?(saved: unknown): Acc;
  /** For accumulators that keep values (a set of distinct values, a count per value, every value):
   *  how many they hold now, in O(1). The engine counts them against the partition's state limit. */
  size?(acc: Acc): number;
  /** Whether adding `input` would make `size` grow (asked only when the partition is near its limit). */
  grows?(acc: Acc, input: In): boolean;
}

// Type-erased form used by the engine, which holds aggregates of many input and output types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAggregate<In = any> = AggregateFunction<In, any, unknown>;

/** Reads a value from an input: a field name or a function. */
export type Extractor<In, V> = keyof In | ((input: In) => V);

export function toGetter<In, V>(extract: Extractor<In, V>): (input: In) => V {
  if (typeof extract === 'function') return extract as (input: In) => V;
  const field = extract;
  return (input: In) => input[field] as V;
}

/** A finite number, or undefined for null, missing and non-numeric values (SQL semantics: ignored). */
export function numeric(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
