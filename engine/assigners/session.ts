import { parseDuration, type Duration } from '../../common/duration.ts';
import { ShardflowError } from '../../common/errors.ts';
import type { SessionWindows } from '../window.ts';

export interface SessionOptions {
  /** Inactivity that ends a session, e.g. "30m". */
  gap: Duration;
}

/**
 * Per-key sessions: an event at time t opens [t, t + gap); sessions that overlap merge into one (an
 * event exactly `gap` after the previous one starts a new session).
 */
export function session(options: SessionOptions | Duration): SessionWindows {
  const o = typeof options === 'object' ? options : { gap: options };
  const gap = parseDuration(o.gap, 'session gap');
  if (gap < 1) throw new ShardflowError('JOB_INVALID', 'session gap must be at least 1ms');
  return { kind: 'session', gap };
}
