// The restart decision, kept pure so it can be tested exhaustively: after a failure, either restart after
// an exponential backoff or give up and escalate to the parent.

export interface RestartPolicy {
  /** ms before the first restart inside the window. */
  readonly minBackoffMs: number;
  /** ms, cap of the backoff. */
  readonly maxBackoffMs: number;
  /** Restarts allowed inside `withinMs`. */
  readonly maxRestarts: number;
  /** ms, the sliding window in which restarts are counted. */
  readonly withinMs: number;
}

export type RestartPlan =
  /** Restart after `backoffMs`; `history` is the new restart history, this restart included. */
  | { readonly kind: 'restart'; readonly backoffMs: number; readonly history: readonly number[] }
  /** The limit is reached: `restarts` were already made inside the window. */
  | { readonly kind: 'escalate'; readonly restarts: number };

/**
 * Decides what follows a failure at time `now` (ms), given the times of earlier restarts (`history`,
 * oldest first). Restarts older than `withinMs` are forgotten, so an actor that fails rarely always gets
 * the shortest backoff; the backoff doubles with each restart still inside the window.
 */
export function planRestart(history: readonly number[], now: number, policy: RestartPolicy): RestartPlan {
  const recent = history.filter((t) => t > now - policy.withinMs);
  if (recent.length >= policy.maxRestarts) return { kind: 'escalate', restarts: recent.length };
  // 2 ** 52 already exceeds any sane cap; clamping the exponent keeps 0 * 2 ** n finite.
  const backoffMs = Math.min(policy.maxBackoffMs, policy.minBackoffMs * 2 ** Math.min(recent.length, 52));
  // Without a limit the history only feeds the exponent, which is clamped anyway: keep it short.
  const kept = policy.maxRestarts === Infinity ? recent.slice(-63) : recent;
  return { kind: 'restart', backoffMs, history: [...kept, now] };
}
