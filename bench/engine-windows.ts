// Scenario: the window engine alone, one process, no I/O: keyed count/sum/avg over 10,000 keys in
// tumbling (1 s), sliding (5 s sliding by 1 s) and session (gap 2 s) windows.
import { session } from '../engine/assigners/session.ts';
import { sliding } from '../engine/assigners/sliding.ts';
import { tumbling } from '../engine/assigners/tumbling.ts';
import type { Figure } from './results-file.ts';
import { makeWorkload, measureEngine } from './engine-workload.ts';

export function engineWindows(log: (line: string) => void): Figure[] {
  const events = 2_000_000;
  const w = makeWorkload(events, 10_000, 50);
  const figures: Figure[] = [];
  for (const [name, spec] of [
    ['tumbling', tumbling('1s')],
    ['sliding', sliding({ size: '5s', slide: '1s' })],
    ['session', session('2s')],
  ] as const) {
    const { eventsPerSecond, results } = measureEngine(spec, w);
    log(`engine ${name.padEnd(8)} ${Math.round(eventsPerSecond).toLocaleString('en-US').padStart(11)} events/s  (${events.toLocaleString('en-US')} events, 10,000 keys, ${results.toLocaleString('en-US')} results)`);
    figures.push({ name: `engine.${name}.events_per_s`, value: Math.round(eventsPerSecond), unit: 'events/s' });
  }
  return figures;
}
