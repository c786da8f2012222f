// The timing constants that are not settings, each with its reason: the internal rhythms of the data
// path, and the start, stop and restart deadlines of the local cluster. Settings (the checkpoint
// interval, heartbeats, timeouts) live in config.ts.

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

/** How a failing partition or router actor is restarted (from its checkpoint): backoff doubling from
 *  100 ms to 2 s, so a NATS failover (a few seconds) costs a few restarts, not a storm of them; more
 *  than 30 failures within a minute is no passing fault, and the worker gives the actor up (a
 *  partition is claimed afresh at the next reconcile of the assignment, a router after
 *  ROUTER_RESTART_MS). */
export const ACTOR_RESTARTS = { minBackoffMs: 100, maxBackoffMs: 2_000, maxRestarts: 30, withinMs: 60_000 } as const;

/** ms before a router the worker gave up is started again, when this worker still owns its
 *  partition: the pause keeps a router that fails at once from spinning. */
export const ROUTER_RESTART_MS = 1_000;

/** ms between reconnection attempts of the cluster's NATS clients. nats.js waits 2 s by default,
 *  longer than the default worker timeout (1 s) and leader lease (1.5 s): a process that lost its
 *  NATS node would be declared dead before it tried another one. */
export const NATS_RECONNECT_WAIT_MS = 250;

/** ms between pings of the cluster's NATS clients, and how many may go unanswered before the
 *  connection counts as dead and the client moves to another server. A server behind a network
 *  partition drops packets silently: with nats.js's default (2 min, 2 pings) a worker connected across
 *  the cut would hang for minutes; this way it fails over within about 3-5 s, while a slow link
 *  (pongs late by a few hundred ms) does not trip it. */
export const NATS_PING_INTERVAL_MS = 1_500;
export const NATS_MAX_PINGS_OUT = 2;

// The local cluster (`shardflow up`, `shardflow chaos`) and the nats-servers it starts.

/** How long a nats-server may take to accept connections after it is started: it reads its JetStream
 *  store first, which takes seconds when the store is large. */
export const NATS_START_TIMEOUT_MS = 15_000;

/** How long a nats-server may take to stop after SIGTERM (it flushes its store) before SIGKILL. */
export const NATS_STOP_GRACE_MS = 5_000;

/** How long a new 3-node JetStream cluster may take to answer API calls: it first elects a meta
 *  leader and its peers learn of each other, a few seconds on a loaded machine. */
export const JETSTREAM_READY_TIMEOUT_MS = 30_000;

/** How long a started coordinator or worker may take to join (its first heartbeat in the control
 *  plane): starting Node and TypeScript, connecting, restoring checkpoints on a loaded machine. */
export const PROCESS_START_TIMEOUT_MS = 60_000;

/** How long a coordinator or worker may take to stop after SIGTERM before SIGKILL: a worker first
 *  releases its routers and partitions, each release within RELEASE_TIMEOUT_MS (15 s). */
export const PROCESS_STOP_GRACE_MS = 30_000;

/** ms after which a process killed with `shardflow kill` (or one that crashed) is started again, as a
 *  supervisor's restart delay would; a restart that fails waits longer each time, up to 8 times this. */
export const RESTART_AFTER_MS = 1_000;

/** Span of event time a first `shardflow up` publishes at once before the live events: more than a
 *  minute, so the demo job's first 1-minute windows close and show results within seconds. */
export const HISTORY_MS = 70_000;

/** ms between two readings of the cluster by the web console: a new leader shows within about a
 *  lease plus this; each reading is a few KV reads, nothing for the workers. */
export const CONSOLE_REFRESH_MS = 1_000;

/** ms between two listings of every stream and bucket by the console (a request per stream). */
export const CONSOLE_STREAMS_REFRESH_MS = 5_000;
