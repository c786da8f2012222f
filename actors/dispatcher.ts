// Runs ready actors. Waking an actor is a microtask, which keeps hops between actors cheap, but only up
// to `turnBudget` messages per event-loop turn: past that, actors are woken with setImmediate so timers
// and I/O (NATS acks, heartbeats) get their turn even when actors keep messaging each other.

export class Dispatcher {
  private handledThisTurn = 0;
  private turnEndPending = false;

  constructor(private readonly turnBudget = 1000) {}

  /** Runs `run` soon, never synchronously (a `tell` must not run the receiver inside the sender). */
  schedule(run: () => void): void {
    if (this.handledThisTurn < this.turnBudget) queueMicrotask(run);
    else setImmediate(run);
  }

  /** Records that `count` messages were handled in the current turn. */
  handled(count: number): void {
    if (count === 0) return;
    this.handledThisTurn += count;
    if (!this.turnEndPending) {
      this.turnEndPending = true;
      // Queued before any deferred run, so it resets the budget in the next check phase, after I/O.
      setImmediate(this.endTurn);
    }
  }

  private readonly endTurn = (): void => {
    this.handledThisTurn = 0;
    this.turnEndPending = false;
  };
}
