// When an idle partition writes a watermark marker into its own log. A caught-up partition that
// received nothing for the job's idle timeout moves its watermark to the wall clock minus the
// out-of-orderness bound (or the latest event time, if later), so the windows that ended before it
// fire instead of waiting for data that may never come. Writing the marker into the log, rather than
// moving the watermark in memory, makes replays meet it at the same position. Pure: the caller passes
// the time and what the feed knows.

export interface IdleInput {
  now: number;
  /** Nothing more stored in the partition than what was processed (from the feed). */
  caughtUp: boolean;
  /** Last sequence processed. */
  position: number;
  watermark: number;
  latestEventTime: number;
  /** Earliest watermark at which some window fires or is cleaned up (Infinity: none). */
  nextFireTime: number;
}

export class IdleDetector {
  private lastMessageAt: number;
  private markedAfter = -1;

  constructor(
    private readonly idleTimeoutMs: number,
    private readonly maxOutOfOrdernessMs: number,
    now: number,
  ) {
    this.lastMessageAt = now;
  }

  /** Messages arrived (even ones already processed before a restart): the partition is not idle. */
  received(now: number): void {
    this.lastMessageAt = now;
  }

  get quietSince(): number {
    return this.lastMessageAt;
  }

  /** The marker's watermark when one should be written now, else undefined. Once proposed for a
   *  position, never again for the same one (a marker that could not be written waits for new data). */
  propose(input: IdleInput): number | undefined {
    if (!input.caughtUp || input.position === 0 || this.markedAfter === input.position) return undefined;
    if (input.now - this.lastMessageAt < this.idleTimeoutMs) return undefined;
    const watermark = Math.max(input.latestEventTime, input.now - this.maxOutOfOrdernessMs - 1);
    if (!(watermark > input.watermark && watermark >= input.nextFireTime)) return undefined;
    this.markedAfter = input.position;
    return watermark;
  }

  /** The shell did not write the proposed marker (the routers still had events for the partition):
   *  propose again at the next check. */
  notWritten(): void {
    this.markedAfter = -1;
  }
}
