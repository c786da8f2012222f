// Scenario: the window engine alone, one process, no I/O: keyed count/sum/avg over 10,000 keys in
// tumbling (1 s), sliding (5 s sliding by 1 s: each event updates one 1 s pane, and each window merges
// its 5 panes when it fires) and session (gap 2 s) windows.
import { session } from '../engine/assigners/session.ts';
import { sliding } from '../engine/assigners/sliding.ts';
import { tumbling } from '../engine/assigners/tumbling.ts';
import type { Figure } from './results-file.ts';
import type { Scenario } from './scenario.ts';
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

export const engineWindowsScenario: Scenario = {
  name: 'engine-windows',
  title: 'Window engine alone',
  description:
    'One process, one JS thread, no I/O: the window operator folds 2,000,000 events built before timing ' +
    '(bench/engine-workload.ts: 10,000 keys, 50 events per ms of event time, up to 500 ms out of order under a ' +
    '1 s bound, so nothing is late) into keyed count/sum/avg, in tumbling 1 s, sliding 5 s every 1 s and session ' +
    '(gap 2 s) windows; best of 3 rounds after a warm-up. A sliding event updates one 1 s pane, and each window ' +
    'merges its 5 panes when it fires.',
  figures: [
    { name: 'engine.tumbling.events_per_s', unit: 'events/s', label: 'tumbling 1 s, count/sum/avg, 10,000 keys', target: { op: '>=', value: 1_000_000 } },
    { name: 'engine.sliding.events_per_s', unit: 'events/s', label: 'sliding 5 s every 1 s, same workload', target: { op: '>=', value: 2_000_000 } },
    { name: 'engine.session.events_per_s', unit: 'events/s', label: 'session, gap 2 s, same workload' },
  ],
  run: engineWindows,
};
