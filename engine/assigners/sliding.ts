import { parseDuration, type Duration } from '../../common/duration.ts';
import { ShardflowError } from '../../common/errors.ts';
import type { AlignedWindows } from '../window.ts';

export interface SlidingOptions {
  /** Window length, e.g. "5m". */
  size: Duration;
  /** How often a new window starts, e.g. "1m": each event belongs to ceil(size / slide) windows. */
  slide: Duration;
  offset?: Duration;
}

/** Overlapping (hopping) windows of a fixed size that start every `slide`. */
export function sliding(options: SlidingOptions): AlignedWindows {
  const size = parseDuration(options.size, 'sliding window size');
  const slide = parseDuration(options.slide, 'sliding window slide');
  if (slide < 1) throw new ShardflowError('JOB_INVALID', 'sliding window slide must be at least 1ms');
  if (size < slide) {
    throw new ShardflowError(
      'JOB_INVALID',
      `sliding window size (${size}ms) is smaller than its slide (${slide}ms): events between windows would be lost; make size >= slide, or use tumbling windows`,
    );
  }
  const offset = parseDuration(options.offset ?? 0, 'sliding window offset') % slide;
  return { kind: 'sliding', size, slide, offset };
}
