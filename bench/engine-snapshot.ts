// Scenario: snapshot and restore of a window operator holding 100,000 open windows
// (100,000 keys x 1 tumbling window, count/sum/avg).
import { avg, count, sum } from '../engine/aggregates/index.ts';
import { tumbling } from '../engine/assigners/tumbling.ts';
import { WindowOperator } from '../engine/window-operator.ts';
import type { Figure } from './results-file.ts';
import type { Scenario } from './scenario.ts';

export function engineSnapshot(log: (line: string) => void): Figure[] {
  const make = () =>
    new WindowOperator<{ v: number }>({
      window: tumbling('1h'),
      aggregates: { count: count(), sum: sum('v'), avg: avg('v') },
      emit: () => {},
    });
  const op = make();
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < 100_000; i++) op.process(`key-${i}`, t0 + i, { v: i % 1000 });
  if (op.openWindows !== 100_000) throw new Error(`expected 100000 open windows, got ${op.openWindows}`);
  let bytes: Uint8Array = new Uint8Array(0);
  let snapMs = Infinity;
  let restoreMs = Infinity;
  for (let round = 0; round < 5; round++) {
    const a = performance.now();
    bytes = op.snapshot();
    const b = performance.now();
    make().restore(bytes);
    const c = performance.now();
    snapMs = Math.min(snapMs, b - a);
    restoreMs = Math.min(restoreMs, c - b);
  }
  log(`snapshot 100k windows: ${snapMs.toFixed(1)} ms, ${(bytes.byteLength / 1024 / 1024).toFixed(2)} MiB; restore ${restoreMs.toFixed(1)} ms`);
  return [
    { name: 'engine.snapshot_100k.ms', value: Number(snapMs.toFixed(2)), unit: 'ms' },
    { name: 'engine.snapshot_100k.bytes', value: bytes.byteLength, unit: 'bytes' },
    { name: 'engine.restore_100k.ms', value: Number(restoreMs.toFixed(2)), unit: 'ms' },
  ];
}

export const engineSnapshotScenario: Scenario = {
  name: 'engine-snapshot',
  title: 'Snapshot and restore of a window operator',
  description:
    'A window operator holding 100,000 open windows (100,000 keys, each in one 1 h tumbling window with ' +
    'count/sum/avg) is snapshotted to bytes (msgpack, as a checkpoint stores it) and restored into a fresh ' +
    'operator; best of 5 rounds. One process, no I/O: the time a checkpoint or a restore spends in the engine.',
  figures: [
    { name: 'engine.snapshot_100k.ms', unit: 'ms', label: 'snapshot of 100,000 open windows' },
    { name: 'engine.snapshot_100k.bytes', unit: 'bytes', label: 'size of that snapshot' },
    { name: 'engine.restore_100k.ms', unit: 'ms', label: 'restore of that snapshot into a fresh operator' },
  ],
  run: engineSnapshot,
};
