// The exactness verdict of a chaos run: what the sink, the late side output and the dead-letter
// stream hold, against what the oracle computed from the input log, and whether every published
// event is in that log exactly once. Pure: the run gathers the inputs, this only compares.
import type { ChaosExpectation, WindowTotals } from './oracle.ts';

export interface Tally {
  expected: number;
  found: number;
  missing: number;
  duplicated: number;
}

export interface Verdict {
  input: { published: number; inLog: number; lost: number; duplicated: number };
  results: Tally & { wrong: number; unexpected: number; examples: string[] };
  late: Tally;
  deadLettered: Tally & { wrongReason: number };
  exact: boolean;
}

export interface ChaosObservations {
  /** Events the producer had acknowledged, by index 0..published-1. */
  published: number;
  /** The producer's index of every event in the log (from its message id), in log order. */
  loggedIndexes: readonly number[];
  /** The sink's rows: "key|start|end" -> totals (a window appears at most once in the KV sink). */
  rows: ReadonlyMap<string, WindowTotals>;
  /** Source positions ("seq.index") in the late side output, in stream order. */
  latePositions: readonly string[];
  /** Source position and reason of every dead letter, in stream order. */
  deadLetters: readonly { position: string; reason: string }[];
}

export function chaosVerdict(expected: ChaosExpectation, seen: ChaosObservations): Verdict {
  const logged = new Map<number, number>();
  for (const i of seen.loggedIndexes) logged.set(i, (logged.get(i) ?? 0) + 1);
  let lost = 0;
  for (let i = 0; i < seen.published; i++) if (!logged.has(i)) lost++;
  const input = { published: seen.published, inLog: seen.loggedIndexes.length, lost, duplicated: [...logged.values()].filter((n) => n > 1).length };

  const results = { expected: expected.windows.size, found: seen.rows.size, missing: 0, duplicated: 0, wrong: 0, unexpected: 0, examples: [] as string[] };
  for (const [id, want] of expected.windows) {
    const got = seen.rows.get(id);
    if (!got) results.missing++;
    else if (got.count > want.count) results.duplicated++;
    else if (got.count !== want.count || got.sum !== want.sum) results.wrong++;
    else continue;
    if (results.examples.length < 5) results.examples.push(`${id}: expected ${JSON.stringify(want)}, found ${got ? JSON.stringify(got) : 'nothing'}`);
  }
  for (const id of seen.rows.keys()) {
    if (expected.windows.has(id)) continue;
    results.unexpected++;
    if (results.examples.length < 5) results.examples.push(`${id}: not expected, found ${JSON.stringify(seen.rows.get(id))}`);
  }

  const late = tally([...expected.late], seen.latePositions);
  const dead = tally([...expected.deadLetters.keys()], seen.deadLetters.map((d) => d.position));
  const wrongReason = seen.deadLetters.filter((d) => expected.deadLetters.has(d.position) && expected.deadLetters.get(d.position) !== d.reason).length;
  const deadLettered = { ...dead, wrongReason };

  const clean = (t: Tally) => t.missing === 0 && t.duplicated === 0 && t.found === t.expected;
  const exact = input.lost + input.duplicated === 0 && results.missing + results.duplicated + results.wrong + results.unexpected === 0 && clean(late) && clean(dead) && wrongReason === 0;
  return { input, results, late, deadLettered, exact };
}

/** Expected ids against found ones: missing, and found more than once (found also counts strays). */
function tally(expected: readonly string[], found: readonly string[]): Tally {
  const want = new Set(expected);
  const seen = new Map<string, number>();
  for (const id of found) seen.set(id, (seen.get(id) ?? 0) + 1);
  return {
    expected: want.size,
    found: found.length,
    missing: [...want].filter((id) => !seen.has(id)).length,
    duplicated: [...seen.values()].filter((n) => n > 1).length,
  };
}
