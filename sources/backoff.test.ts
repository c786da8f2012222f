import { describe, expect, it } from 'vitest';
import { backoffDelay, MAX_RETRY_AFTER_MS, parseRetryAfter } from './backoff.ts';

const NOW = Date.UTC(2026, 11, 5, 0, 0, 0);
const settings = { minBackoffMs: 500, maxBackoffMs: 60_000 };

describe('Retry-After', () => {
  it('reads seconds and HTTP dates, and nothing else', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
    expect(parseRetryAfter(new Date(NOW + 30_000).toUTCString(), NOW)).toBe(30_000);
    expect(parseRetryAfter(new Date(NOW - 30_000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('-5', NOW)).toBeUndefined();
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
  });
});

describe('the backoff between attempts', () => {
  it('doubles from the minimum up to the maximum, with a jitter that keeps at least half', () => {
    expect(backoffDelay(settings, 1, undefined, 0.999)).toBeLessThanOrEqual(500);
    expect(backoffDelay(settings, 1, undefined, 0)).toBe(250);
    expect(backoffDelay(settings, 4, undefined, 0)).toBe(2_000);
    expect(backoffDelay(settings, 50, undefined, 0.999)).toBeLessThanOrEqual(60_000);
    expect(backoffDelay(settings, 50, undefined, 0)).toBe(30_000);
  });

  it("never waits less than the server's Retry-After, which is cut to ten minutes", () => {
    expect(backoffDelay(settings, 1, 5_000, 0.5)).toBe(5_000);
    expect(backoffDelay(settings, 1, 3_600_000, 0.5)).toBe(MAX_RETRY_AFTER_MS);
    expect(backoffDelay(settings, 30, 1_000, 0)).toBe(30_000);
  });
});
