// What the window engine emits: results, retractions and late events (the side output). Sinks
// apply them idempotently, keyed by (key, start, end).

/** A window's aggregates. Revision 0 is the firing when the watermark passed the window's end; each
 *  later revision is an update caused by a late event within the allowed lateness. */
export interface WindowResult {
  readonly type: 'result';
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly values: Record<string, unknown>;
  readonly revision: number;
}

/** A result emitted earlier no longer holds: a late event merged that session into another one
 *  (session windows only). A sink deletes the row for (key, start, end). */
export interface WindowRetraction {
  readonly type: 'retract';
  readonly key: string;
  readonly start: number;
  readonly end: number;
  /** The last revision emitted for this window. */
  readonly revision: number;
}

export type LateReason = 'window-closed' | 'invalid-event-time' | 'aggregate-failed';

/** An event the engine could not put in any window, with the reason. Never silently dropped. */
export interface LateEvent<V = unknown> {
  readonly type: 'late';
  readonly reason: LateReason;
  readonly message: string;
  readonly key: string;
  readonly eventTime: number;
  readonly input: number;
  readonly watermark: number;
  readonly value: V;
}

export type EngineRecord<V = unknown> = WindowResult | WindowRetraction | LateEvent<V>;

export type Emit<V = unknown> = (record: EngineRecord<V>) => void;

export function formatTime(ms: number): string {
  if (ms === Infinity) return '+inf';
  if (ms === -Infinity) return '-inf';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
