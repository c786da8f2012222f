// Which workers are alive, from their heartbeats as a coordinator receives them. A worker is alive
// while its last heartbeat arrived less than `timeoutMs` ago by this coordinator's clock; a worker
// that left gracefully (deleted its heartbeat) is gone at once. Pure: the caller passes the time.
import type { WorkerHeartbeat } from './protocol.ts';

interface Member {
  heartbeat: WorkerHeartbeat;
  seenAt: number;
}

export class Membership {
  private readonly members = new Map<string, Member>();

  constructor(private readonly timeoutMs: number) {}

  heartbeat(hb: WorkerHeartbeat, now: number): void {
    this.members.set(hb.id, { heartbeat: hb, seenAt: now });
  }

  left(id: string): void {
    this.members.delete(id);
  }

  /** Live workers, sorted by id. */
  live(now: number): WorkerHeartbeat[] {
    return [...this.members.values()]
      .filter((m) => now - m.seenAt < this.timeoutMs)
      .map((m) => m.heartbeat)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Drops members silent for long (they stay dead; keeps the map small). */
  forgetOlderThan(now: number, ms: number): void {
    for (const [id, m] of this.members) if (now - m.seenAt > ms) this.members.delete(id);
  }
}
