import { parseDuration, type Duration } from '../../common/duration.ts';
import { ShardflowError } from '../../common/errors.ts';
import type { AlignedWindows } from '../window.ts';

export interface TumblingOptions {
  /** Window length, e.g. "1m". */
  size: Duration;
  /** Shifts window boundaries from the epoch, e.g. "15m" with size "1h" gives windows at :15. */
  offset?: Duration;
}

/** Fixed-size, non-overlapping windows: every event belongs to exactly one. */
export function tumbling(options: TumblingOptions | Duration): AlignedWindows {
  const o = typeof options === 'object' ? options : { size: options };
  const size = parseDuration(o.size, 'tumbling window size');
  if (size < 1) throw new ShardflowError('JOB_INVALID', 'tumbling window size must be at least 1ms');
  const offset = parseDuration(o.offset ?? 0, 'tumbling window offset') % size;
  return { kind: 'tumbling', size, slide: size, offset };
}
