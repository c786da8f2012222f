// The control plane as data: what lives in the coordination KV bucket, who writes it, who reads it.
// Every record is JSON. Times are epoch ms of the writer's clock, shown in `status`; liveness is
// judged by the reader's own clock (when it saw a record change), never by comparing clocks.

import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import { JOB_NAME_PATTERN, LEADER_KEY, SOURCE_NAME_PATTERN } from '../common/names.ts';

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

/** The acting leader's record with the time the NATS server stored it: readers outside the
 *  coordinators (status, the chaos monitor) judge its age by the server's stamp, not by the leader's
 *  `renewedAt`, which a leader with a skewed clock writes wrong. */
export async function readLeaderStored(kv: KV): Promise<{ record: LeaderRecord; storedAt: number } | null> {
  const e = await kv.get(LEADER_KEY);
  const record = e?.operation === 'PUT' ? (e.json() as LeaderRecord) : null;
  return record && !record.resigned ? { record, storedAt: e!.created.getTime() } : null;
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
  /** sources["job/name"] = worker id, or null when no live worker can run it (absent: no sources). */
  sources?: Record<string, string | null>;
  /** Sources moving away from a live worker: "job/name" -> previous owner (as `handoffs`). */
  sourceHandoffs?: Record<string, string>;
  writtenAt: number;
}

/** `workers.<id>` — each worker's heartbeat, every HEARTBEAT_MS; deleted when it leaves gracefully.
 *  Read by the coordinators (membership) and `status`. */
export interface WorkerHeartbeat {
  id: string;
  at: number;
  /** The jobs it can run, with their partition counts and the names of their sources. */
  jobs: { name: string; partitions: number; sources?: string[] }[];
  /** Partitions it runs now, as "job/p". */
  owned: string[];
  /** Unprocessed messages per owned partition, "job/p" -> count. */
  lag: Record<string, number>;
  metricsPort: number;
  /** Near its memory limit: keeps its partitions but takes no new ones. */
  full?: boolean;
  heapUsedBytes?: number;
  /** Share of one core this process used since its previous heartbeat (autoscaling reads it). */
  cpu?: number;
  /** Where it runs, for status and the console. */
  host?: string;
  pid?: number;
  rssBytes?: number;
  /** Figures of each owned partition, "job/p" -> stats (the console's partition tables). */
  stats?: Record<string, PartitionStats>;
  /** The sources it runs, "job/name" -> what `status` shows of them. */
  sources?: Record<string, { records: number; position: string; lastError: string | null }>;
}

/** `autoscale` — written by the leader when the cluster autoscales (SHARDFLOW_AUTOSCALE) and its
 *  decision changes; read by the launcher that starts and stops workers (shardflow up), and `status`. */
export interface AutoscaleRecord {
  /** Workers the cluster should run. */
  desired: number;
  min: number;
  max: number;
  /** Why, in words (the lag and CPU that made the decision). */
  reason: string;
  term: number;
  /** What the leader observed when it decided. */
  workers: number;
  lag: number;
  cpu: number | null;
  at: number;
}

/** A partition's figures as its owner announces them. Counts are since the partition started on
 *  this worker. */
export interface PartitionStats {
  /** Events that reached the window operators. */
  events: number;
  /** Event-time watermark, epoch ms; null before the first event. */
  watermark: number | null;
  keys: number;
  windows: number;
  /** When the latest checkpoint was stored, epoch ms; null before the first. */
  checkpointAt: number | null;
  checkpointBytes: number;
  /** Times its actor failed and was started again from the checkpoint. */
  restarts: number;
}

/** `coordinators.<id>` — each coordinator's heartbeat with its role, for `status`. */
export interface CoordinatorHeartbeat {
  id: string;
  role: 'follower' | 'candidate' | 'leader';
  term: number;
  at: number;
  metricsPort: number;
}

/** The most partitions a job may have (jobs/define-job.ts refuses more). */
const MAX_PARTITIONS = 1024;

/** What a worker's heartbeat must look like to count: anyone able to write the key could write
 *  anything, and the leader acts on it (membership, partition counts). Unknown fields are dropped. */
const workerHeartbeatSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  at: z.number().finite(),
  jobs: z.array(z.object({ name: z.string().regex(JOB_NAME_PATTERN), partitions: z.number().int().min(1).max(MAX_PARTITIONS), sources: z.array(z.string().regex(SOURCE_NAME_PATTERN)).max(64).optional() })).max(64),
  owned: z.array(z.string().max(128)).max(MAX_PARTITIONS * 64),
  lag: z.record(z.string().max(128), z.number().finite().min(0)),
  metricsPort: z.number().int().min(0).max(65535),
  full: z.boolean().optional(),
  heapUsedBytes: z.number().finite().min(0).optional(),
  cpu: z.number().finite().min(0).max(64).optional(),
  host: z.string().max(253).optional(),
  pid: z.number().int().min(0).optional(),
  rssBytes: z.number().finite().min(0).optional(),
  stats: z
    .record(
      z.string().max(128),
      z.object({
        events: z.number().finite().min(0),
        watermark: z.number().finite().nullable(),
        keys: z.number().finite().min(0),
        windows: z.number().finite().min(0),
        checkpointAt: z.number().finite().nullable(),
        checkpointBytes: z.number().finite().min(0),
        restarts: z.number().finite().min(0),
      }),
    )
    .optional(),
  sources: z.record(z.string().max(128), z.object({ records: z.number().finite().min(0), position: z.string().max(400), lastError: z.string().max(600).nullable() })).optional(),
});

/** The heartbeat stored under `workers.<keyId>`, or why it is not one. */
export function parseWorkerHeartbeat(keyId: string, bytes: Uint8Array): { heartbeat: WorkerHeartbeat } | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return { problem: 'not JSON' };
  }
  const parsed = workerHeartbeatSchema.safeParse(raw);
  if (!parsed.success) return { problem: parsed.error.issues.map((i) => `${i.path.join('.') || 'record'}: ${i.message}`).slice(0, 3).join('; ') };
  if (parsed.data.id !== keyId) return { problem: `the record names worker ${JSON.stringify(parsed.data.id)} but is stored under workers.${keyId}` };
  const heartbeat: WorkerHeartbeat = { ...parsed.data, lag: { ...parsed.data.lag }, ...(parsed.data.stats ? { stats: { ...parsed.data.stats } } : {}) };
  return { heartbeat };
}
