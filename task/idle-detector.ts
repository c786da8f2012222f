// When an idle partition writes a watermark marker into its own log. A caught-up partition that
// received nothing for the job's idle timeout moves its watermark to the wall clock minus the
// out-of-orderness bound (or the latest event time, if later), so the windows that ended before it
// fire instead of waiting for data that may never come. Writing the marker into the log, rather than
// moving the watermark in memory, makes replays meet it at the same position. Pure: the caller passes
// the time and what the feed knows.
//
// "The wall clock" is the NATS server's: the stamp of the last message stored, plus the time this
// worker has measured since it received it. A worker whose own clock is off (by 30 s, say) would
// otherwise write a watermark 30 s in the future, and every event of those 30 s would be late.

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
  /** The server's stamp of the last message received (undefined: none since the start). */
  private lastStoredAt: number | undefined;
  private markedAfter = -1;

  constructor(
    private readonly idleTimeoutMs: number,
    private readonly maxOutOfOrdernessMs: number,
    now: number,
    /** The server's clock at or before `now` (the stamp of the checkpoint restored), if known. */
    storedAt?: number,
  ) {
    this.lastMessageAt = now;
    this.lastStoredAt = storedAt;
  }

  /** Messages arrived (even ones already processed before a restart): the partition is not idle.
   *  `storedAt`: the server's stamp of the last of them, when known. */
  received(now: number, storedAt?: number): void {
    this.lastMessageAt = now;
    if (storedAt !== undefined) this.lastStoredAt = storedAt;
  }

  get quietSince(): number {
    return this.lastMessageAt;
  }

  /** The marker's watermark when one should be written now, else undefined. Once proposed for a
   *  position, never again for the same one (a marker that could not be written waits for new data). */
  propose(input: IdleInput): number | undefined {
    if (!input.caughtUp || input.position === 0 || this.markedAfter === input.position) return undefined;
    if (input.now - this.lastMessageAt < this.idleTimeoutMs) return undefined;
    // Neither a message nor a checkpoint stamp since the start (a partition never checkpointed):
    // only the local clock is known.
    const wallClock = this.lastStoredAt === undefined ? input.now : this.lastStoredAt + (input.now - this.lastMessageAt);
    const watermark = Math.max(input.latestEventTime, wallClock - this.maxOutOfOrdernessMs - 1);
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
