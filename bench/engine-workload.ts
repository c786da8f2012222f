// Shared workload of the engine benchmarks: a keyed stream over 10,000 keys with event times that
// advance steadily, a little out of order, pre-built so that only the engine is measured.
import { seededRandom } from '../common/random.ts';
import { avg, count, sum } from '../engine/aggregates/index.ts';
import { WindowOperator } from '../engine/window-operator.ts';
import type { WindowSpec } from '../engine/window.ts';

export interface Workload {
  keys: string[];
  times: Float64Array;
  values: { v: number }[];
}

export function makeWorkload(events: number, keyCount: number, eventsPerMs: number, seed = 1): Workload {
  const random = seededRandom(seed);
  const keyNames = Array.from({ length: keyCount }, (_, i) => `key-${i}`);
  const keys = new Array<string>(events);
  const times = new Float64Array(events);
  const values = new Array<{ v: number }>(events);
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < events; i++) {
    keys[i] = keyNames[Math.floor(random() * keyCount)]!;
    times[i] = t0 + Math.floor(i / eventsPerMs) - Math.floor(random() * 500);
    values[i] = { v: Math.floor(random() * 1000) };
  }
  return { keys, times, values };
}

/** Events per second of the engine over the workload (best of `rounds`, after a warm-up round). */
export function measureEngine(window: WindowSpec, w: Workload, rounds = 3): { eventsPerSecond: number; results: number } {
  let best = 0;
  let results = 0;
  for (let round = 0; round <= rounds; round++) {
    let emitted = 0;
    const op = new WindowOperator<{ v: number }>({
      window,
      aggregates: { count: count(), sum: sum('v'), avg: avg('v') },
      maxOutOfOrderness: 1_000,
      emit: () => {
        emitted++;
      },
    });
    const { keys, times, values } = w;
    const n = keys.length;
    const began = performance.now();
    for (let i = 0; i < n; i++) op.process(keys[i]!, times[i]!, values[i]!);
    op.endOfInput();
    const rate = n / ((performance.now() - began) / 1000);
    if (round > 0 && rate > best) best = rate;
    results = emitted;
  }
  return { eventsPerSecond: best, results };
}
