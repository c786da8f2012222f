// What the chaos job's sink must hold, computed from its input log alone: every partition's messages
// in stored order (events and the idle markers the partitions wrote), folded by plain code that
// shares nothing with the engine. It encodes the engine's event-time rules for this one job:
//  - a partition's watermark is the largest event time seen minus the bound minus 1, or an idle
//    marker's value when that is higher; it never goes back;
//  - an event is judged against the watermark before it: its window [s, e) still takes it while
//    watermark < e - 1 + allowed lateness, otherwise it is late (side output, not counted);
//  - a record that is not a valid {k, v, t} event is dead-lettered with the decoder's reason.
import { positionKey, readInputEntry, type LoggedMessage } from '../common/input-log.ts';
import { CHAOS_JOB } from './chaos-job.ts';

export interface WindowTotals {
  count: number;
  sum: number;
}

export interface ChaosExpectation {
  /** "key|start|end" -> the window's final count and sum. */
  windows: Map<string, WindowTotals>;
  /** Positions ("seq.index") of late events. */
  late: Set<string>;
  /** Position ("seq.index") -> dead-letter reason. */
  deadLetters: Map<string, 'malformed-json' | 'schema-violation' | 'malformed-batch'>;
  /** Events (valid or not) in the log. */
  events: number;
}

const text = new TextDecoder();

/** The event of a raw record, or the reason it is dead-lettered. */
export function classify(data: Uint8Array): { k: string; v: number; t: number } | 'malformed-json' | 'schema-violation' {
  let e: unknown;
  try {
    e = JSON.parse(text.decode(data));
  } catch {
    return 'malformed-json';
  }
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return 'schema-violation';
  const { k, v, t, ...rest } = e as Record<string, unknown>;
  if (typeof k !== 'string' || k === '' || !Number.isInteger(v) || typeof t !== 'number' || !Number.isFinite(t) || Object.keys(rest).length > 0) return 'schema-violation';
  return { k, v: v as number, t };
}

export function expectedChaosResults(log: readonly LoggedMessage[]): ChaosExpectation {
  const size = CHAOS_JOB.windowMs;
  const watermarks = new Map<number, number>();
  const windows = new Map<string, WindowTotals>();
  const late = new Set<string>();
  const deadLetters = new Map<string, 'malformed-json' | 'schema-violation' | 'malformed-batch'>();
  let events = 0;
  for (const m of log) {
    const entry = readInputEntry(CHAOS_JOB.name, m);
    if (!entry) continue;
    const wm = watermarks.get(entry.partition) ?? -Infinity;
    if (entry.kind === 'marker') {
      // The engine skips a marker without a readable watermark.
      if (Number.isFinite(entry.watermark)) watermarks.set(entry.partition, Math.max(wm, entry.watermark));
      continue;
    }
    if (entry.events === undefined) {
      events++;
      deadLetters.set(positionKey(entry.seq, 0), 'malformed-batch');
      continue;
    }
    for (const [index, data] of entry.events.entries()) {
      events++;
      const position = positionKey(entry.seq, index);
      const e = classify(data);
      if (typeof e === 'string') {
        deadLetters.set(position, e);
        continue;
      }
      const now = watermarks.get(entry.partition) ?? -Infinity;
      const start = Math.floor(e.t / size) * size;
      const end = start + size;
      if (now >= end - 1 + CHAOS_JOB.latenessMs) {
        late.add(position);
      } else {
        const id = `${e.k}|${start}|${end}`;
        const w = windows.get(id) ?? { count: 0, sum: 0 };
        w.count++;
        w.sum += e.v;
        windows.set(id, w);
      }
      watermarks.set(entry.partition, Math.max(now, e.t - CHAOS_JOB.boundMs - 1));
    }
  }
  return { windows, late, deadLetters, events };
}
