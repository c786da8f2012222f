// The control plane as data: what lives in the coordination KV bucket, who writes it, who reads it.
// Every record is JSON. Times are epoch ms of the writer's clock, shown in `status`; liveness is
// judged by the reader's own clock (when it saw a record change), never by comparing clocks.

import type { KV } from '@nats-io/kv';
import { LEADER_KEY } from '../common/names.ts';

/** `leader` — written by the leader (create or compare-and-set), read by coordinators, workers and
 *  `status`. The term grows by one at every change of leader. It is never deleted: a leader that
 *  stops gracefully marks it `resigned`, so the standby leads at once and the term keeps growing
 *  across restarts of the whole cluster (workers ignore assignments of an older term). */
export interface LeaderRecord {
  id: string;
  term: number;
  renewedAt: number;
  resigned?: boolean;
}

/** The acting leader's record, or null when there is none (never elected, or resigned). */
export async function readLeader(kv: KV): Promise<LeaderRecord | null> {
  const e = await kv.get(LEADER_KEY);
  const record = e?.operation === 'PUT' ? (e.json() as LeaderRecord) : null;
  return record && !record.resigned ? record : null;
}

/** `assignment` — written by the leader only (compare-and-set on the revision it last saw), watched
 *  by workers, which ignore a record whose term is older than one they have already seen. */
export interface AssignmentRecord {
  term: number;
  /** Grows with every record. */
  version: number;
  /** owners[job][p] = worker id, or null when no live worker runs the job. */
  owners: Record<string, (string | null)[]>;
  /** Partitions moving away from a live worker: "job/p" -> previous owner. The new owner waits for
   *  that owner to checkpoint and release the partition (up to a timeout) before it takes it. */
  handoffs: Record<string, string>;
  writtenAt: number;
}

/** `workers.<id>` — each worker's heartbeat, every HEARTBEAT_MS; deleted when it leaves gracefully.
 *  Read by the coordinators (membership) and `status`. */
export interface WorkerHeartbeat {
  id: string;
  at: number;
  /** The jobs it can run, with their partition counts. */
  jobs: { name: string; partitions: number }[];
  /** Partitions it runs now, as "job/p". */
  owned: string[];
  /** Unprocessed messages per owned partition, "job/p" -> count. */
  lag: Record<string, number>;
  metricsPort: number;
  /** Near its memory limit: keeps its partitions but takes no new ones. */
  full?: boolean;
  heapUsedBytes?: number;
}

/** `coordinators.<id>` — each coordinator's heartbeat with its role, for `status`. */
export interface CoordinatorHeartbeat {
  id: string;
  role: 'follower' | 'candidate' | 'leader';
  term: number;
  at: number;
  metricsPort: number;
}
