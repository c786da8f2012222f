// The shape every seed job's oracle shares, and the comparison of a sink's rows (or a local run's
// results) with what an oracle expects. Oracles are plain loops over the raw events: nothing under
// test/seed-oracles imports the engine, the local runner or the jobs, so a bug there cannot hide by
// being computed twice.

export type Aggregates = Record<string, unknown>;

export interface SeedExpectation {
  /** "key|window_start|window_end" -> the aggregates of the window's final result. */
  rows: Map<string, Aggregates>;
  /** Position of a raw event in the input -> the reason it must be dead-lettered with. */
  deadLetters: Map<number, string>;
}

/**
 * `raws` in the order the job's partitions received them (what matters: for each key, the order of
 * its events, which decides ties such as the open of a bar); `ingestTime` is when they entered the
 * log, in epoch ms, from which the future-skew limit counts. Every event is taken as on time: the
 * seed generators stay within the jobs' out-of-orderness bounds, which the unit tests check.
 */
export type SeedOracle = (raws: readonly string[], ingestTime: number) => SeedExpectation;

export const MINUTE = 60_000;
export const DAY = 86_400_000;
/** Events before this are dead-lettered (the jobs' default limits.minEventTime). */
export const MIN_EVENT_TIME = Date.UTC(2000, 0, 1);
/** Events this far after their ingest time are dead-lettered (the default limits.maxFutureSkew). */
export const MAX_FUTURE_SKEW = 5 * MINUTE;
/** The ISO-8601 UTC instants the generators write; anything else they write is meant to be invalid. */
export const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

export function windowId(key: string, start: number, end: number): string {
  return `${key}|${start}|${end}`;
}

/** The raw line as a JSON object, or undefined when it is not JSON at all. JSON that is not an object
 *  (a number, null, an array) comes back as an object without fields, which every schema rejects. */
export function parseJson(raw: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Epoch ms of an event time field, or the dead-letter reason of a missing, unreadable or out-of-range one. */
export function eventTimeOf(value: unknown, ingestTime: number): number | string {
  if (value === undefined || value === null || value === '') return 'missing-event-time';
  let t: number;
  if (typeof value === 'number') t = value;
  else if (typeof value === 'string' && ISO_UTC.test(value) && Number.isFinite(Date.parse(value))) t = Date.parse(value);
  else return 'invalid-event-time';
  return t < MIN_EVENT_TIME || t > ingestTime + MAX_FUTURE_SKEW ? 'event-time-out-of-range' : t;
}

/** The first `k` of a value -> count tally, most frequent first, ties by value. */
export function topEntries(counts: ReadonlyMap<string, number>, k: number): { value: string; count: number }[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, k)
    .map(([value, count]) => ({ value, count }));
}

export function mean(sum: number, n: number): number | null {
  return n === 0 ? null : sum / n;
}

/** A result as the sinks store it: the window's identity, its revision and its aggregates. */
export interface StoredRow {
  key: string;
  window_start: number;
  window_end: number;
  [field: string]: unknown;
}

/** Rows keyed like the oracle's; `duplicates` lists windows that appear more than once. */
export function rowsById(rows: readonly StoredRow[]): { rows: Map<string, Aggregates>; duplicates: string[] } {
  const byId = new Map<string, Aggregates>();
  const duplicates: string[] = [];
  for (const { job: _job, key, window_start, window_end, revision: _revision, ...aggregates } of rows) {
    const id = windowId(key, window_start, window_end);
    if (byId.has(id)) duplicates.push(id);
    byId.set(id, aggregates);
  }
  return { rows: byId, duplicates };
}

/** The results of a local run (`runLocal(...).records`), as rows. */
export function localRows(records: readonly { type: string }[]): { rows: Map<string, Aggregates>; duplicates: string[] } {
  const results = records.filter((r): r is { type: 'result'; key: string; start: number; end: number; values: Aggregates } => r.type === 'result');
  return rowsById(results.map((r) => ({ key: r.key, window_start: r.start, window_end: r.end, ...r.values })));
}

export interface RowDiff {
  expected: number;
  found: number;
  missing: string[];
  /** Windows whose aggregates differ, with both versions (the first few in full). */
  wrong: { id: string; expected?: Aggregates; found?: Aggregates }[];
  extra: string[];
}

export function diffRows(expected: ReadonlyMap<string, Aggregates>, found: ReadonlyMap<string, Aggregates>): RowDiff {
  const diff: RowDiff = { expected: expected.size, found: found.size, missing: [], wrong: [], extra: [] };
  for (const [id, aggregates] of expected) {
    const row = found.get(id);
    if (row === undefined) diff.missing.push(id);
    else if (!sameValue(aggregates, row)) diff.wrong.push(diff.wrong.length < 3 ? { id, expected: aggregates, found: row } : { id });
  }
  for (const id of found.keys()) if (!expected.has(id)) diff.extra.push(id);
  return diff;
}

export function isEmptyDiff(diff: RowDiff): boolean {
  return diff.missing.length === 0 && diff.wrong.length === 0 && diff.extra.length === 0;
}

/** One line for a failure message: counts, then a few ids and the first wrong row. */
export function describeDiff(diff: RowDiff): string {
  const some = (ids: string[]) => (ids.length === 0 ? '' : ` (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', ...' : ''})`);
  const first = diff.wrong[0]?.expected ? `; first wrong ${diff.wrong[0].id}: expected ${JSON.stringify(diff.wrong[0].expected)}, found ${JSON.stringify(diff.wrong[0].found)}` : '';
  return `expected ${diff.expected} rows, found ${diff.found}: missing ${diff.missing.length}${some(diff.missing)}, wrong ${diff.wrong.length}, extra ${diff.extra.length}${some(diff.extra)}${first}`;
}

/**
 * Equality of aggregate values as the sinks keep them: numbers equal up to float rounding (a sum
 * merged from panes adds in another order than a loop), objects whatever their key order (jsonb
 * reorders keys), arrays in order.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameValue((a as Aggregates)[k], (b as Aggregates)[k]));
  }
  return a === b;
}
