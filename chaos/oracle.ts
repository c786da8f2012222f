// What the chaos job's sink must hold, computed from its input log alone: every partition's messages
// in stored order (events and the idle markers the partitions wrote), folded by plain code that
// shares nothing with the engine. It encodes the engine's event-time rules for this one job:
//  - a partition's watermark is the largest event time seen minus the bound minus 1, or an idle
//    marker's value when that is higher; it never goes back;
//  - an event is judged against the watermark before it: its window [s, e) still takes it while
//    watermark < e - 1 + allowed lateness, otherwise it is late (side output, not counted);
//  - a record that is not a valid {k, v, t} event is dead-lettered with the decoder's reason.
import type { StreamMessage } from '../batch/stream-range.ts';
import { HEADERS } from '../common/names.ts';
import { CHAOS_JOB } from './chaos-job.ts';

export interface WindowTotals {
  count: number;
  sum: number;
}

export interface ChaosExpectation {
  /** "key|start|end" -> the window's final count and sum. */
  windows: Map<string, WindowTotals>;
  /** Stream sequences of late events. */
  late: Set<number>;
  /** Stream sequence -> dead-letter reason. */
  deadLetters: Map<number, 'malformed-json' | 'schema-violation'>;
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

export function expectedChaosResults(log: readonly StreamMessage[]): ChaosExpectation {
  const size = CHAOS_JOB.windowMs;
  const watermarks = new Map<string, number>();
  const windows = new Map<string, WindowTotals>();
  const late = new Set<number>();
  const deadLetters = new Map<number, 'malformed-json' | 'schema-violation'>();
  let events = 0;
  for (const m of log) {
    const wm = watermarks.get(m.subject) ?? -Infinity;
    if (m.data.byteLength === 0 && m.header(HEADERS.control) === 'idle') {
      // The engine skips a marker without a readable watermark.
      const marker = Number(m.header(HEADERS.watermark));
      if (Number.isFinite(marker)) watermarks.set(m.subject, Math.max(wm, marker));
      continue;
    }
    events++;
    const e = classify(m.data);
    if (typeof e === 'string') {
      deadLetters.set(m.seq, e);
      continue;
    }
    const start = Math.floor(e.t / size) * size;
    const end = start + size;
    if (wm >= end - 1 + CHAOS_JOB.latenessMs) {
      late.add(m.seq);
    } else {
      const id = `${e.k}|${start}|${end}`;
      const w = windows.get(id) ?? { count: 0, sum: 0 };
      w.count++;
      w.sum += e.v;
      windows.set(id, w);
    }
    watermarks.set(m.subject, Math.max(wm, e.t - CHAOS_JOB.boundMs - 1));
  }
  return { windows, late, deadLetters, events };
}
