// The timing constants of the data path that are not settings, each with its reason. Settings (the
// checkpoint interval, heartbeats, timeouts) live in config.ts; these are the internal rhythms.

/** ms between ticks of a worker's partitions and routers: checkpoints due, lease checks, idleness. */
export const WORKER_TICK_MS = 200;

/** ms between checks that this worker still owns a partition: a worker that was paused or cut off
 *  learns it lost the partition within this time, before it writes anything more. */
export const LEASE_CHECK_MS = 1_000;

/** A caught-up partition that received nothing for this long checks that its log has nothing newer
 *  (a consumer whose NATS node died can stop delivering without an error). */
export const STALL_CHECK_MS = 3_000;

/** The same for a partition still working through a backlog: its first batch after restoring a large
 *  state on a loaded machine can take seconds, which is not a stall. */
export const STALL_BEHIND_MS = 30_000;

/** How long a new owner waits for the previous live owner to checkpoint and release a partition
 *  before taking it (the fencing epoch protects it anyway). */
export const HANDOFF_TIMEOUT_MS = 3_000;

/** How often a worker reads the assignment afresh and applies it again (a partition stopped by a
 *  false alarm during a NATS failover starts again). */
export const ASSIGNMENT_RECONCILE_MS = 2_000;

/** ms between records of an ingest router's position: the span a restarted router reads again. */
export const ROUTER_RECORD_MS = 500;

/** How long a graceful release may take before the partition is dropped (its next owner resumes from
 *  the previous checkpoint). */
export const RELEASE_TIMEOUT_MS = 15_000;

/** ms between checks of a worker's memory (heap used against its limit). */
export const MEMORY_CHECK_MS = 1_000;
