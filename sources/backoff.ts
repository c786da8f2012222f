// How long a source waits before its next attempt after a failure: exponential backoff with jitter
// (so that many workers polling one API do not retry in step), never shorter than what the server
// asked for with Retry-After. Pure: the caller passes the clock and the random number.

/** Retry-After as seconds ("120") or an HTTP date, in ms from `now`; undefined when absent or
 *  unreadable. A date in the past is 0. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  // An HTTP date names its day and zone ("Wed, 21 Oct 2026 07:28:00 GMT"): a bare "-5" is no date.
  const at = /[a-z]/i.test(text) ? Date.parse(text) : NaN;
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/** A server may ask for a pause, not for the source to stop: a Retry-After longer than this is cut
 *  to it (an hour's value from a misconfigured proxy must not silence a source for an hour). */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

export interface BackoffSettings {
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
}

/**
 * The wait before attempt `failures + 1` (failures >= 1): min * 2^(failures-1), at most max, scaled
 * by a jitter in [0.5, 1); at least the server's Retry-After (cut to MAX_RETRY_AFTER_MS).
 */
export function backoffDelay(settings: BackoffSettings, failures: number, retryAfterMs: number | undefined, random: number): number {
  const exponent = Math.min(30, Math.max(0, failures - 1));
  const base = Math.min(settings.maxBackoffMs, settings.minBackoffMs * 2 ** exponent);
  const jittered = Math.round(base * (0.5 + random / 2));
  return Math.max(jittered, Math.min(MAX_RETRY_AFTER_MS, retryAfterMs ?? 0));
}
