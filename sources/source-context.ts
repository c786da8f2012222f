// What a running source's loop (http-poll-source.ts, sse-source.ts) gets from the runner that holds
// its lease: its position, where its records go, how to checkpoint, and a stop signal.
import type { Logger } from '../common/logger.ts';
import type { SourceUnitId } from '../common/names.ts';
import type { SourceOutput } from './source-output.ts';
import type { SourcePosition } from './source-position.ts';

/** How a request or connection ended, as counted in shardflow_source_requests_total. */
export type RequestOutcome = 'ok' | 'not-modified' | 'throttled' | 'server-error' | 'client-error' | 'timeout' | 'network' | 'too-large' | 'invalid';

export interface SourceContext {
  readonly id: SourceUnitId;
  /** Changed by the loop; `commit` stores it as it is. */
  readonly position: SourcePosition;
  readonly output: SourceOutput;
  /** Aborted when the source must stop (released, worker stopping). */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Stores the position (fenced: throws PARTITION_FENCED if another worker took the source). */
  commit(): Promise<void>;
  /** Resolves after `ms`, or at once when the source is stopped. */
  sleep(ms: number): Promise<void>;
  /** Counts a request's outcome; a failure becomes the source's last error. */
  report(outcome: RequestOutcome, error?: string): void;
  /** A number in [0, 1) (backoff jitter). */
  random(): number;
}
