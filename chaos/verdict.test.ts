// The pure parts of chaos: the oracle over a hand-made log, the verdict catching every kind of
// damage a broken cluster could do, and the seeded fault plans.
import { describe, expect, it } from 'vitest';
import type { StreamMessage } from '../batch/stream-range.ts';
import { packEvents } from '../common/event-batch.ts';
import { HEADERS, partitionId, partitionSubject } from '../common/names.ts';
import { seededRandom } from '../common/random.ts';
import { CHAOS_JOB } from './chaos-job.ts';
import { expectedChaosResults } from './oracle.ts';
import { planFaults, SCENARIO_NAMES, SCENARIOS } from './scenarios.ts';
import { chaosVerdict, type ChaosObservations } from './verdict.ts';

const T = Date.UTC(2026, 0, 1, 12);
const bytes = (s: string) => new TextEncoder().encode(s);

function log(entries: ({ p: number; raw: string } | { p: number; marker: number } | { p: number; batch: string[] })[]): StreamMessage[] {
  return entries.map((e, i) => {
    const id = partitionId(CHAOS_JOB.name, e.p);
    if ('marker' in e) return { seq: i + 1, subject: partitionSubject(id, 'marker'), data: new Uint8Array(), timestamp: T, header: (n: string) => (n === HEADERS.watermark ? String(e.marker) : undefined) };
    if ('batch' in e) return { seq: i + 1, subject: partitionSubject(id, 'batch'), data: packEvents(e.batch.map(bytes)), timestamp: T, header: () => undefined };
    return { seq: i + 1, subject: partitionSubject(id), data: bytes(e.raw), timestamp: T, header: () => undefined };
  });
}

const event = (k: string, v: number, t: number) => JSON.stringify({ k, v, t });

describe('the chaos oracle', () => {
  const input = log([
    { p: 0, raw: event('a', 1, T + 10) },
    { p: 0, raw: event('a', 2, T + 900) },
    { p: 1, raw: event('b', 5, T + 1_500) },
    { p: 0, raw: '{"k":"a","v":' },
    { p: 0, raw: event('a', 3, T + 20_000) },
    // Far behind partition 0's watermark (T + 20 000 - bound - 1), past the allowed lateness: late.
    { p: 0, raw: event('a', 4, T + 100) },
    // Behind, but its window still accepts it: counted.
    { p: 0, raw: event('a', 7, T + 12_000) },
    { p: 1, raw: JSON.stringify({ k: 'b', v: 'x', t: T }) },
    // An idle marker moves partition 1's watermark far ahead: its next old event is late.
    { p: 1, marker: T + 60_000 },
    { p: 1, raw: event('b', 6, T + 1_600) },
    // A batch of three: each event has its own position.
    { p: 2, batch: [event('c', 1, T + 5_000), 'nope', event('c', 2, T + 5_100)] },
  ]);
  const expected = expectedChaosResults(input);

  it('folds each window, judges lateness per partition and names each dead letter', () => {
    expect(Object.fromEntries(expected.windows)).toEqual({
      [`a|${T}|${T + 1_000}`]: { count: 2, sum: 3 },
      [`b|${T + 1_000}|${T + 2_000}`]: { count: 1, sum: 5 },
      [`a|${T + 20_000}|${T + 21_000}`]: { count: 1, sum: 3 },
      [`a|${T + 12_000}|${T + 13_000}`]: { count: 1, sum: 7 },
      [`c|${T + 5_000}|${T + 6_000}`]: { count: 2, sum: 3 },
    });
    expect([...expected.late]).toEqual(['6.0', '10.0']);
    expect(Object.fromEntries(expected.deadLetters)).toEqual({ '4.0': 'malformed-json', '8.0': 'schema-violation', '11.1': 'malformed-json' });
    expect(expected.events).toBe(12);
    expect(CHAOS_JOB.latenessMs).toBeLessThan(20_000 - 100);
  });

  const exact: ChaosObservations = {
    published: 12,
    loggedIndexes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    rows: new Map(expected.windows),
    latePositions: ['6.0', '10.0'],
    deadLetters: [
      { position: '4.0', reason: 'malformed-json' },
      { position: '8.0', reason: 'schema-violation' },
      { position: '11.1', reason: 'malformed-json' },
    ],
  };

  it('calls exact only what is exact', () => {
    expect(chaosVerdict(expected, exact).exact).toBe(true);
  });

  it('catches every kind of damage', () => {
    const rows = (change: (m: Map<string, { count: number; sum: number }>) => void) => {
      const m = new Map([...expected.windows].map(([k, v]) => [k, { ...v }]));
      change(m);
      return m;
    };
    const cases: [string, Partial<ChaosObservations>, (v: ReturnType<typeof chaosVerdict>) => number][] = [
      ['a lost window', { rows: rows((m) => m.delete(`a|${T}|${T + 1_000}`)) }, (v) => v.results.missing],
      ['an event counted twice', { rows: rows((m) => (m.get(`a|${T}|${T + 1_000}`)!.count = 3)) }, (v) => v.results.duplicated],
      ['a wrong sum', { rows: rows((m) => (m.get(`a|${T}|${T + 1_000}`)!.sum = 4)) }, (v) => v.results.wrong],
      ['a window nobody sent', { rows: rows((m) => m.set('z|0|1000', { count: 1, sum: 1 })) }, (v) => v.results.unexpected],
      ['a lost input event', { published: 13 }, (v) => v.input.lost],
      ['an input event stored twice', { loggedIndexes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 11] }, (v) => v.input.duplicated],
      ['a late event not in the side output', { latePositions: ['6.0'] }, (v) => v.late.missing],
      ['a late event twice', { latePositions: ['6.0', '10.0', '10.0'] }, (v) => v.late.duplicated],
      ['a dead letter lost', { deadLetters: [{ position: '4.0', reason: 'malformed-json' }, { position: '11.1', reason: 'malformed-json' }] }, (v) => v.deadLettered.missing],
      ['a dead letter with the wrong reason', { deadLetters: [{ position: '4.0', reason: 'malformed-json' }, { position: '8.0', reason: 'oversized' }, { position: '11.1', reason: 'malformed-json' }] }, (v) => v.deadLettered.wrongReason],
    ];
    for (const [what, change, count] of cases) {
      const v = chaosVerdict(expected, { ...exact, ...change });
      expect(v.exact, what).toBe(false);
      expect(count(v), what).toBe(1);
    }
  });
});

describe('fault plans', () => {
  it('are the same for the same seed and spread over the run', () => {
    for (const name of SCENARIO_NAMES) {
      const a = planFaults(SCENARIOS[name], 60_000, seededRandom(3), 7);
      expect(planFaults(SCENARIOS[name], 60_000, seededRandom(3), 7)).toEqual(a);
      expect(a.length).toBeGreaterThanOrEqual(SCENARIOS[name].minFaults);
      for (const f of a) expect(f.atMs).toBeGreaterThan(0);
      for (const f of a) expect(f.atMs).toBeLessThan(60_000);
    }
  });

  it('restart every process in a rolling restart, and mix every kind in mixed', () => {
    const rolling = planFaults(SCENARIOS['rolling-restart'], 20_000, seededRandom(1), 7);
    expect(rolling.map((f) => f.step)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const kinds = new Set(planFaults(SCENARIOS.mixed, 600_000, seededRandom(1), 7).map((f) => f.kind));
    expect([...kinds].sort()).toEqual(['coordinator-restart', 'leader-kill', 'nats-node-kill', 'worker-add', 'worker-kill', 'worker-pause', 'worker-remove', 'worker-restart']);
  });
});
