// A log line per event is a denial of service waiting to happen: a producer sending garbage at
// 100,000 events/s would make every worker write 100,000 lines/s. Side-output lines (dead letters,
// late events) go through a limiter instead: at most `perWindow` lines per window, then one summary
// line saying how many were left out.
import type { Logger } from './logger.ts';

export class RateLimitedLog {
  private windowStart = 0;
  private written = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly perWindow = 10,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(fields: Record<string, unknown>, message: string): void {
    this.write('warn', fields, message);
  }

  info(fields: Record<string, unknown>, message: string): void {
    this.write('info', fields, message);
  }

  private write(level: 'warn' | 'info', fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) this.log.warn({ suppressed: this.suppressed, windowMs: this.windowMs }, `${this.suppressed} more such lines left out (rate limit)`);
      this.windowStart = now;
      this.written = 0;
      this.suppressed = 0;
    }
    if (this.written < this.perWindow) {
      this.written++;
      this.log[level](fields, message);
    } else {
      this.suppressed++;
    }
  }
}
