// A coordinator process. Every renewal period it reads the leader record and steps the election state
// machine; all coordinators track worker membership from heartbeats; the leader, while its lease is
// fresh, turns the live membership into an assignment and publishes it (compare-and-set), and reports
// the size of every stream and bucket of the cluster as metrics. On SIGTERM a leader deletes its
// record so the standby takes over at once.
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, type NatsAccess } from '../nats/connect.ts';
import type { Logger } from '../common/logger.ts';
import { metrics } from '../common/metrics.ts';
import { ASSIGNMENT_KEY, AUTOSCALE_KEY, COORDINATION_BUCKET, coordinatorKey, LEADER_KEY, parsePartitionId } from '../common/names.ts';
import { pausedJobs } from './job-registry.ts';
import { openBucket } from '../nats/topology.ts';
import { assignPartitions, movedPartitions, type JobSpec } from './assignment-strategy.ts';
import { assignSources, movedSources, type SourceSpecForAssignment } from './source-assignment.ts';
import { storageOver } from './cluster-status.ts';
import { canAct, electionTick, initialElection, observeLeader, writeOutcome, type ElectionState, type ElectionTiming } from './election.ts';
import { Membership } from './membership.ts';
import { parseWorkerHeartbeat, type AssignmentRecord, type AutoscaleRecord, type CoordinatorHeartbeat, type LeaderRecord, type WorkerHeartbeat } from './protocol.ts';
import { autoscaleStep, initialAutoscale, type AutoscaleSettings, type AutoscaleState } from './autoscale-policy.ts';
import { truncateForLog } from '../common/header-value.ts';
import { RateLimitedLog } from '../common/rate-limited-log.ts';

export interface CoordinatorOptions {
  id: string;
  natsUrl: string;
  /** How to get into NATS (credentials, TLS); default: natsUrl without either. */
  nats?: NatsAccess;
  replicas: number;
  /** ms without a worker heartbeat before the worker is declared dead. */
  workerTimeoutMs: number;
  /** ms the leader record stays valid without renewal. */
  leaderLeaseMs: number;
  /** Port of this process's /metrics, announced in its heartbeat (for `status` and Prometheus). */
  metricsPort: number;
  log: Logger;
  /** Set: as leader, decide how many workers should run (autoscale-policy.ts) and publish it. */
  autoscale?: AutoscaleSettings;
}

/** ms between two readings of the streams' sizes by the leader: sizes move slowly against limits of
 *  hundreds of MiB, and each reading lists every stream of the account. */
export const STORAGE_METRICS_INTERVAL_MS = 10_000;

export class Coordinator {
  private election: ElectionState;
  private readonly timing: ElectionTiming;
  private readonly membership: Membership;
  private readonly rejectedLog: RateLimitedLog;
  private assignment: AssignmentRecord | null = null;
  private assignmentRevision = 0;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly storageTimer: ReturnType<typeof setInterval>;
  private busy = false;
  private stopped = false;
  private lastLive = new Set<string>();
  /** The autoscaling decision of this leadership (undefined: not leading, or not autoscaling), and
   *  the one last published. */
  private scaling: AutoscaleState | undefined;
  private publishedScale = '';
  /** Jobs paused by an admin: their partitions are assigned to nobody. */
  private readonly paused = new Set<string>();

  private constructor(
    private readonly options: CoordinatorOptions,
    private readonly nc: NatsConnection,
    private readonly kv: KV,
  ) {
    this.election = initialElection(Date.now());
    // Renewal (and reconciliation) every tenth of the lease: a dead worker is acted on within 150 ms
    // of being declared dead with the default lease.
    this.timing = { leaseMs: options.leaderLeaseMs, renewMs: Math.max(50, Math.floor(options.leaderLeaseMs / 10)) };
    this.membership = new Membership(options.workerTimeoutMs);
    this.rejectedLog = new RateLimitedLog(options.log);
    this.timer = setInterval(() => void this.tick(), this.timing.renewMs);
    // Apart from tick(): listing streams must never delay the renewal of the lease.
    this.storageTimer = setInterval(() => void this.reportStorage(), STORAGE_METRICS_INTERVAL_MS);
  }

  static async start(options: CoordinatorOptions): Promise<Coordinator> {
    const nc = await connectNats(options.nats ?? { servers: options.natsUrl }, { name: options.id, persistent: true });
    const kv = await openBucket(nc, COORDINATION_BUCKET, options.replicas);
    const c = new Coordinator(options, nc, kv);
    void c.watchWorkers();
    // Known before the first assignment: a new leader must not hand out a paused job's partitions.
    for (const job of (await pausedJobs(kv)).keys()) c.paused.add(job);
    void c.watchPaused().catch((err: unknown) => options.log.warn({ err: (err as Error).message }, 'paused jobs no longer watched'));
    await c.tick();
    return c;
  }

  get role(): ElectionState['role'] {
    return this.election.role;
  }

  get term(): number {
    return this.election.term;
  }

  /** Graceful stop: a leader gives its record up so that the standby leads without waiting. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.storageTimer);
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    if (this.election.role === 'leader') {
      const resigned: LeaderRecord = { id: this.options.id, term: this.election.term, renewedAt: Date.now(), resigned: true };
      await this.kv.update(LEADER_KEY, JSON.stringify(resigned), this.election.revision).catch(() => {});
      this.options.log.info({ term: this.election.term }, 'leader stepped down for shutdown');
    }
    await this.kv.delete(coordinatorKey(this.options.id)).catch(() => {});
    metrics.isLeader.set(0);
    forgetStorage();
    await this.nc.drain().catch(() => {});
  }

  private async watchWorkers(): Promise<void> {
    const watch = await this.kv.watch({ key: 'workers.>' });
    for await (const e of watch as AsyncIterable<KvWatchEntry>) {
      if (this.stopped) break;
      const id = e.key.slice('workers.'.length);
      if (e.operation === 'PUT') {
        const hb = this.admitHeartbeat(id, e.value);
        // A record left by a worker that died long ago is not a heartbeat; only the watch's initial
        // values can be one, so the worker's own `at` is consulted for those alone: an update is a
        // heartbeat arriving now, whatever the worker's clock says (it may be skewed).
        if (hb && (e.isUpdate || Date.now() - hb.at < this.options.workerTimeoutMs)) this.membership.heartbeat(hb, Date.now());
      } else {
        this.membership.left(id);
      }
    }
  }

  private async watchPaused(): Promise<void> {
    const watch = await this.kv.watch({ key: 'paused.>' });
    for await (const e of watch as AsyncIterable<KvWatchEntry>) {
      if (this.stopped) break;
      const job = e.key.slice('paused.'.length);
      if (e.operation === 'PUT') this.paused.add(job);
      else this.paused.delete(job);
      this.options.log.info({ job, paused: e.operation === 'PUT', term: this.election.term }, e.operation === 'PUT' ? 'job paused' : 'job resumed');
    }
  }

  /**
   * A worker heartbeat the leader may act on, or undefined: a record that is malformed, stored under
   * another worker's key, or that gives a job another partition count than the assignment in force
   * (a job's partition count is fixed for its life; one forged record must not reshape it) is
   * ignored, counted and logged (rate-limited).
   */
  private admitHeartbeat(keyId: string, value: Uint8Array): WorkerHeartbeat | undefined {
    const parsed = parseWorkerHeartbeat(keyId, value);
    let problem = 'problem' in parsed ? parsed.problem : undefined;
    if ('heartbeat' in parsed) {
      const owners = this.assignment?.owners ?? {};
      const conflict = parsed.heartbeat.jobs.find((j) => owners[j.name] !== undefined && owners[j.name]!.length !== j.partitions);
      if (conflict) problem = `it gives job ${conflict.name} ${conflict.partitions} partitions, the assignment ${owners[conflict.name]!.length}`;
      else return parsed.heartbeat;
    }
    metrics.heartbeatsRejected.inc();
    this.rejectedLog.warn({ key: truncateForLog(`workers.${keyId}`, 100), problem: truncateForLog(problem ?? '', 300) }, 'worker heartbeat ignored');
    return undefined;
  }

  private async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      await this.stepElection();
      const now = Date.now();
      if (canAct(this.election, now, this.timing)) await this.reconcile(now);
      const hb: CoordinatorHeartbeat = { id: this.options.id, role: this.election.role, term: this.election.term, at: now, metricsPort: this.options.metricsPort };
      await this.kv.put(coordinatorKey(this.options.id), JSON.stringify(hb));
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message }, 'coordinator tick failed');
    } finally {
      this.busy = false;
    }
  }

  private async stepElection(): Promise<void> {
    const before = this.election;
    const entry = await this.kv.get(LEADER_KEY);
    const record = entry && entry.operation === 'PUT' ? (entry.json() as LeaderRecord) : null;
    this.election = observeLeader(this.election, this.options.id, record, entry?.revision ?? 0, Date.now());
    const { state, action } = electionTick(this.election, Date.now(), this.timing);
    this.election = state;
    if (action.type !== 'none') {
      const value = JSON.stringify({ id: this.options.id, term: action.term, renewedAt: Date.now() } satisfies LeaderRecord);
      let revision: number | null;
      try {
        revision = action.revision === 0 ? await this.kv.create(LEADER_KEY, value) : await this.kv.update(LEADER_KEY, value, action.revision);
      } catch {
        revision = null;
      }
      this.election = writeOutcome(this.election, this.options.id, action.term, revision, Date.now());
    }
    if (this.election.role !== before.role && this.election.role !== 'candidate') {
      this.options.log.info({ from: before.role, to: this.election.role, term: this.election.term, leader: this.election.leaderId }, `coordinator is now ${this.election.role}`);
      if (this.election.role === 'leader') {
        await this.loadAssignment();
        void this.reportStorage();
      }
    }
    if (before.role === 'leader' && this.election.role !== 'leader') {
      forgetStorage();
      // The next leader decides from what it finds; this one's decision is not carried over.
      this.scaling = undefined;
      metrics.autoscaleDesired.set(0);
    }
    metrics.isLeader.set(this.election.role === 'leader' ? 1 : 0);
    metrics.leaderTerm.set(this.election.term);
  }

  private async loadAssignment(): Promise<void> {
    const entry = await this.kv.get(ASSIGNMENT_KEY);
    this.assignment = entry && entry.operation === 'PUT' ? (entry.json() as AssignmentRecord) : null;
    this.assignmentRevision = entry?.revision ?? 0;
  }

  /** As leader: publish the assignment that the live membership calls for, if it differs. */
  private async reconcile(now: number): Promise<void> {
    const live = this.membership.live(now);
    const liveIds = new Set(live.map((w) => w.id));
    for (const id of this.lastLive) {
      if (!liveIds.has(id)) {
        metrics.heartbeatsMissed.inc();
        this.options.log.info({ worker: id, term: this.election.term }, 'worker gone (left or missed its heartbeats)');
      }
    }
    this.lastLive = liveIds;
    metrics.workersAlive.set(live.length);
    await this.decideScale(live, now);
    this.membership.forgetOlderThan(now, 60_000);
    // With no live worker at all there is nobody to hand partitions to: keep the last assignment (its
    // owners resume them when they come back) rather than publish one that owns nothing.
    if (live.length === 0 && this.assignment !== null) return;

    const jobs = new Map<string, { partitions: number; workers: string[]; full: string[] }>();
    for (const w of live) {
      for (const j of w.jobs) {
        const spec = jobs.get(j.name) ?? { partitions: j.partitions, workers: [], full: [] };
        spec.workers.push(w.id);
        if (w.full) spec.full.push(w.id);
        jobs.set(j.name, spec);
      }
    }
    const previous = this.assignment?.owners ?? {};
    for (const [job, owners] of Object.entries(previous)) if (!jobs.has(job)) jobs.set(job, { partitions: owners.length, workers: [], full: [] });
    const specs: JobSpec[] = [...jobs].map(([job, s]) => ({ job, partitions: s.partitions, workers: this.paused.has(job) ? [] : s.workers, full: s.full }));
    const owners = assignPartitions(specs, previous);
    const moves = movedPartitions(previous, owners);
    // Sources: each declared one goes to one live worker that declares it (see source-assignment.ts).
    const sourceWorkers = new Map<string, string[]>();
    for (const w of live) for (const j of w.jobs) for (const name of j.sources ?? []) sourceWorkers.set(`${j.name}/${name}`, [...(sourceWorkers.get(`${j.name}/${name}`) ?? []), w.id]);
    const previousSources = this.assignment?.sources ?? {};
    for (const id of Object.keys(previousSources)) if (!sourceWorkers.has(id)) sourceWorkers.set(id, []);
    const sourceSpecs: SourceSpecForAssignment[] = [...sourceWorkers].map(([id, workers]) => ({ id, workers }));
    const sources = assignSources(sourceSpecs, previousSources, owners, live.filter((w) => w.full).map((w) => w.id));
    const sourceMoves = movedSources(previousSources, sources);
    if (moves.length === 0 && sourceMoves.length === 0 && this.assignment?.term === this.election.term) return;

    const handoffs: Record<string, string> = {};
    for (const m of moves) if (m.from && liveIds.has(m.from)) handoffs[`${m.job}/${m.partition}`] = m.from;
    // A partition that had no owner in the record can still run on a live worker that has not yet
    // released it (a job resumed right after its pause): its new owner waits for that release too.
    for (const w of live) {
      for (const name of w.owned) {
        const p = parsePartitionId(name);
        const owner = p ? owners[p.job]?.[p.index] : undefined;
        if (p && owner && owner !== w.id && handoffs[name] === undefined) handoffs[name] = w.id;
      }
    }
    const sourceHandoffs: Record<string, string> = {};
    for (const m of sourceMoves) if (m.from && liveIds.has(m.from)) sourceHandoffs[m.id] = m.from;
    const record: AssignmentRecord = { term: this.election.term, version: (this.assignment?.version ?? 0) + 1, owners, handoffs, sources, sourceHandoffs, writtenAt: now };
    try {
      this.assignmentRevision =
        this.assignmentRevision === 0 ? await this.kv.create(ASSIGNMENT_KEY, JSON.stringify(record)) : await this.kv.update(ASSIGNMENT_KEY, JSON.stringify(record), this.assignmentRevision);
      this.assignment = record;
      metrics.rebalances.inc();
      metrics.partitionsMoved.inc(moves.length);
      this.options.log.info({ term: record.term, version: record.version, moved: moves.length, sourcesMoved: sourceMoves.length, handoffs: Object.keys(handoffs).length, workers: live.length }, 'assignment published');
    } catch (err) {
      // Someone else wrote the assignment: a newer leader. Read it back; the election decides.
      this.options.log.warn({ err: (err as Error).message, term: this.election.term }, 'assignment not published: it changed under this leader');
      await this.loadAssignment();
      if ((this.assignment?.term ?? 0) > this.election.term) {
        this.election = { ...this.election, role: 'follower' };
        forgetStorage();
      }
    }
  }

  /** As leader with autoscaling: the policy's step on the lag and CPU the live workers report, and
   *  the decision published when it changed (a new leader starts from the workers it finds). */
  private async decideScale(live: WorkerHeartbeat[], now: number): Promise<void> {
    const settings = this.options.autoscale;
    if (!settings) return;
    const lag = live.reduce((sum, w) => sum + Object.values(w.lag).reduce((a, b) => a + b, 0), 0);
    const cpus = live.flatMap((w) => (w.cpu === undefined ? [] : [w.cpu]));
    const cpu = cpus.length === 0 ? undefined : cpus.reduce((a, b) => a + b, 0) / cpus.length;
    const observed = { workers: live.length, lag, cpu };
    this.scaling = this.scaling ? autoscaleStep(this.scaling, observed, now, settings) : initialAutoscale(live.length, settings, now);
    metrics.autoscaleDesired.set(this.scaling.desired);
    const key = `${this.election.term}/${this.scaling.desired}/${this.scaling.changedAt}`;
    if (key === this.publishedScale) return;
    const record: AutoscaleRecord = {
      desired: this.scaling.desired,
      min: settings.min,
      max: settings.max,
      reason: this.scaling.reason,
      term: this.election.term,
      workers: live.length,
      lag,
      cpu: cpu === undefined ? null : Math.round(cpu * 1000) / 1000,
      at: now,
    };
    try {
      await this.kv.put(AUTOSCALE_KEY, JSON.stringify(record));
      this.publishedScale = key;
      this.options.log.info({ term: record.term, desired: record.desired, workers: record.workers, lag, cpu: record.cpu, reason: record.reason }, 'autoscale decision published');
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message, term: record.term }, 'autoscale decision not published; trying again');
    }
  }

  /** As leader: the size, limit and message count of every stream and bucket, as gauges. Only the
   *  leader reports them, so that Prometheus never sums two coordinators' series of one stream. */
  private async reportStorage(): Promise<void> {
    if (this.stopped || this.election.role !== 'leader') return;
    const term = this.election.term;
    try {
      const storage = await storageOver(this.nc);
      // It may have stepped down while reading; a follower's series would double the leader's.
      if (this.stopped || this.election.role !== 'leader' || this.election.term !== term) return;
      // Reset first, in the same turn of the event loop as the sets: a deleted stream's series goes.
      forgetStorage();
      for (const st of storage.streams) {
        metrics.streamBytes.set({ stream: st.stream }, st.bytes);
        metrics.streamLimitBytes.set({ stream: st.stream }, st.max_bytes);
        metrics.streamMessages.set({ stream: st.stream }, st.messages);
      }
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message, term }, 'stream sizes not read');
    }
  }
}

function forgetStorage(): void {
  metrics.streamBytes.reset();
  metrics.streamLimitBytes.reset();
  metrics.streamMessages.reset();
}
