// When a partition checkpoints: after `intervalMs` of processing time with progress, or after
// `everyMessages` messages, whichever comes first; never two at once (one is stored while the next
// stretch of the log is processed, so a checkpoint costs the partition no waiting). Pure bookkeeping:
// the task reports progress and the shell reports what became of each checkpoint.

export class CheckpointSchedule {
  private lastAt: number;
  private since = 0;
  private inFlight = false;
  /** Last sequence covered by a stored checkpoint. */
  stored: number;

  constructor(
    private readonly intervalMs: number,
    private readonly everyMessages: number,
    restoredSeq: number,
    now: number,
  ) {
    this.lastAt = now;
    this.stored = restoredSeq;
  }

  /** Messages processed (events and markers alike: both move the position). */
  progress(messages: number): void {
    this.since += messages;
  }

  /** True when a checkpoint should be taken now. */
  due(now: number): boolean {
    if (this.inFlight || this.since === 0) return false;
    return this.since >= this.everyMessages || now - this.lastAt >= this.intervalMs;
  }

  get pending(): boolean {
    return this.inFlight;
  }

  /** A checkpoint was handed to the shell. */
  taken(now: number): void {
    this.inFlight = true;
    this.since = 0;
    this.lastAt = now;
  }

  /** The shell stored the checkpoint covering `seq`. */
  committed(seq: number): void {
    this.inFlight = false;
    this.stored = Math.max(this.stored, seq);
  }

  /** The shell could not store it; the next one covers the same stretch again. */
  failed(messages: number): void {
    this.inFlight = false;
    this.since += Math.max(1, messages);
  }
}
