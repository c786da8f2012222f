// A worker process: connects to NATS, makes sure each job's streams and buckets exist, runs one
// partition actor per partition it owns (and the job's ingest router shards that go with them),
// ticks them (checkpoints, leases, idleness), and on a graceful stop checkpoints and releases every
// partition before it exits. It watches its own heap: near the limit it announces itself full and
// the leader gives it no new partitions, so one heavy partition cannot take the cluster down worker
// after worker.
import { hostname } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ActorSystem, type ActorRef } from '../actors/index.ts';
import { ShardflowError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { metrics } from '../common/metrics.ts';
import {
  CHECKPOINTS_BUCKET,
  COORDINATION_BUCKET,
  describeCheckpointed,
  formatPartitionId,
  formatSourceUnitId,
  ingestStream,
  partitionId,
  workerKey,
  type PartitionId,
  type RouterId,
  type SourceUnitId,
} from '../common/names.ts';
import { SourceRunner } from '../sources/index.ts';
import { connectNats, type NatsAccess } from '../nats/connect.ts';
import { ACTOR_RESTARTS, MEMORY_CHECK_MS, RELEASE_TIMEOUT_MS, ROUTER_RESTART_MS, WORKER_TICK_MS } from '../common/timing.ts';
import type { PartitionStats, WorkerHeartbeat } from '../coordinator/protocol.ts';
import type { Job } from '../jobs/define-job.ts';
import type { TaskOptions } from '../task/partition-task.ts';
import { followAssignments, type AssignmentFollower } from './assignment-follower.ts';
import { registerJob } from '../coordinator/job-registry.ts';
import { AsyncPublisher } from '../nats/async-publisher.ts';
import { KvCheckpointStore } from './checkpoint-store.ts';
import { IngestRouterActor, type RouterEnv } from './ingest-router.ts';
import { PartitionActor, type PartitionEnv, type PartitionSlot } from './partition-actor.ts';
import { registrySchemaCache } from '../schema/registry-reader.ts';
import type { WriterSchemaCache } from '../schema/writer-schema-cache.ts';
import { DEFAULT_FEED_LIMITS, type FeedLimits } from './partition-feed.ts';
import type { CheckpointReport, PartitionMessage, PartitionStatsUpdate, RouterMessage } from './protocol.ts';
import { openSink, type Sink } from './sinks/index.ts';
import { ensureJobTopology, openBucket } from '../nats/topology.ts';

export interface WorkerOptions {
  id: string;
  /** 'coordinated': partitions come from the leader's assignments; 'static': `assign` calls only. */
  mode: 'coordinated' | 'static';
  heartbeatMs: number;
  metricsPort: number;
  /** NATS servers, comma-separated. */
  natsUrl: string;
  replicas: number;
  jobs: Job<unknown>[];
  /** ms between checkpoints of a partition. */
  checkpointIntervalMs: number;
  checkpointEveryEvents: number;
  /** Share of the heap limit above which the worker takes no new partitions (0-1). */
  memoryHighWater?: number;
  /** How to get into NATS (credentials, TLS); default: natsUrl without either. */
  nats?: NatsAccess;
  log: Logger;
}

export class Worker {
  private readonly system: ActorSystem;
  private readonly partitions = new Map<string, { id: PartitionId; ref: ActorRef<PartitionMessage> }>();
  private readonly sinks = new Map<string, Sink>();
  private readonly routers = new Map<string, { id: RouterId; ref: ActorRef<RouterMessage> }>();
  /** Sources this worker runs, by "job/name". */
  private readonly sourceRunners = new Map<string, SourceRunner>();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private follower: AssignmentFollower | undefined;
  private coordination: KV | undefined;
  private readonly lag = new Map<string, number>();
  /** Figures of each owned partition, kept across restarts of its actor. */
  private readonly stats = new Map<string, PartitionStats>();
  private full = false;
  private closing = false;
  /** CPU time and wall time at the previous heartbeat, for the share of a core used since. */
  private cpuMark = { usage: process.cpuUsage(), at: performance.now() };
  private readonly feedLimits: FeedLimits;
  /** Writer schemas of the Avro jobs this worker runs, read from the registry as events name them. */
  private readonly schemas: WriterSchemaCache;

  private constructor(
    private readonly options: WorkerOptions,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly store: KvCheckpointStore,
    private readonly publisher: AsyncPublisher,
  ) {
    const log = options.log;
    this.system = new ActorSystem({
      onEvent: (e) => {
        if (e.type === 'failed') log.warn({ path: e.path, phase: e.phase, err: String((e.error as Error)?.message ?? e.error) }, 'actor failed');
        else if (e.type === 'restarted') {
          log.info({ path: e.path, restarts: e.restarts, backoffMs: e.backoffMs }, 'actor restarted from its checkpoint');
          this.countRestart(e.path);
        }
        else if (e.type === 'escalated') {
          log.error({ path: e.path, err: e.error.message }, 'actor gave up after repeated failures; it is started again afresh');
          this.abandon(e.path);
        }
      },
    });
    const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    // A consumer must be able to hold the largest message, or it would wait for it forever.
    this.feedLimits = { ...DEFAULT_FEED_LIMITS, maxBufferBytes: Math.max(DEFAULT_FEED_LIMITS.maxBufferBytes, 2 * maxPayload) };
    this.timers.push(setInterval(() => this.tick(), WORKER_TICK_MS));
    this.timers.push(setInterval(() => this.checkMemory(), MEMORY_CHECK_MS));
    metrics.heapLimitBytes.set(this.heapLimit);
    this.schemas = registrySchemaCache(nc);
  }

  static async start(options: WorkerOptions): Promise<Worker> {
    const nc = await connectNats(options.nats ?? { servers: options.natsUrl }, { name: options.id, persistent: true });
    const jsm = await jetstreamManager(nc);
    for (const job of options.jobs) await ensureJobTopology(nc, jsm, job, { replicas: options.replicas });
    const kv = await openBucket(nc, CHECKPOINTS_BUCKET, options.replicas);
    const chunkSize = Math.max(64 * 1024, nc.info!.max_payload - 64 * 1024);
    const publisher = new AsyncPublisher(nc);
    const worker = new Worker(options, nc, jetstream(nc), jsm, new KvCheckpointStore(kv, jsm, CHECKPOINTS_BUCKET, chunkSize), publisher);
    for (const job of options.jobs) worker.sinks.set(job.name, await openSink(nc, job, options.replicas, publisher));
    await worker.startCoordination();
    return worker;
  }

  get id(): string {
    return this.options.id;
  }

  /** Partitions this worker runs, as "job/partition". */
  get owned(): string[] {
    return [...this.partitions.keys()];
  }

  /** Heartbeats (always, for membership and `status`) and, when coordinated, following assignments. */
  private async startCoordination(): Promise<void> {
    this.coordination = await openBucket(this.nc, COORDINATION_BUCKET, this.options.replicas);
    for (const job of this.options.jobs) {
      await registerJob(this.coordination, job).catch((err: unknown) => this.options.log.warn({ job: job.name, err: (err as Error).message }, 'job not registered; `results` and the console will not find it by name'));
    }
    await this.heartbeat();
    this.timers.push(setInterval(() => void this.heartbeat(), this.options.heartbeatMs));
    if (this.options.mode === 'coordinated') {
      this.follower = await followAssignments(
        this.coordination,
        this.store,
        {
          id: this.id,
          jobs: this.options.jobs.map((j) => j.name),
          owned: () => [...this.partitions.values()].map((p) => p.id),
          start: (p) => this.assign(p.job, [p.index]),
          release: (p) => this.release(p.job, p.index),
          sources: {
            declared: this.options.jobs.flatMap((j) => j.sources.map((src) => formatSourceUnitId({ job: j.name, source: src.name }))),
            owned: () => [...this.sourceRunners.keys()],
            start: (id) => this.startSource(id),
            release: (id) => this.releaseSource(id),
          },
        },
        this.options.log,
      );
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.closing || !this.coordination) return;
    const owned = this.owned;
    const memory = process.memoryUsage();
    const hb: WorkerHeartbeat = {
      id: this.id,
      at: Date.now(),
      // A statically assigned worker announces no jobs, so the leader never assigns it anything.
      jobs: this.options.mode === 'coordinated' ? this.options.jobs.map((j) => ({ name: j.name, partitions: j.partitions, ...(j.sources.length > 0 ? { sources: j.sources.map((src) => src.name) } : {}) })) : [],
      owned,
      lag: Object.fromEntries(owned.map((k) => [k, this.lag.get(k) ?? 0])),
      metricsPort: this.options.metricsPort,
      full: this.full,
      heapUsedBytes: memory.heapUsed,
      cpu: this.cpuShare(),
      host: hostname(),
      pid: process.pid,
      rssBytes: memory.rss,
      stats: Object.fromEntries(owned.flatMap((k) => (this.stats.has(k) ? [[k, this.stats.get(k)!]] : []))),
      ...(this.sourceRunners.size > 0 ? { sources: Object.fromEntries([...this.sourceRunners].map(([name, r]) => [name, r.stats()])) } : {}),
    };
    await this.coordination.put(workerKey(this.id), JSON.stringify(hb)).catch(() => {});
  }

  private cpuShare(): number {
    const usage = process.cpuUsage();
    const at = performance.now();
    const used = (usage.user - this.cpuMark.usage.user + usage.system - this.cpuMark.usage.system) / 1000;
    const share = at > this.cpuMark.at ? used / (at - this.cpuMark.at) : 0;
    this.cpuMark = { usage, at };
    return Math.round(share * 1000) / 1000;
  }

  private get heapLimit(): number {
    return getHeapStatistics().heap_size_limit;
  }

  private updateStats(name: string, update: PartitionStatsUpdate): void {
    if (update.lag !== undefined) this.lag.set(name, update.lag);
    const s = this.stats.get(name) ?? { events: 0, watermark: null, keys: 0, windows: 0, checkpointAt: null, checkpointBytes: 0, restarts: 0 };
    s.events += update.processed ?? 0;
    if (update.watermark !== undefined) s.watermark = update.watermark;
    if (update.keys !== undefined) s.keys = update.keys;
    if (update.windows !== undefined) s.windows = update.windows;
    if (update.checkpointAt !== undefined) s.checkpointAt = update.checkpointAt;
    if (update.checkpointBytes !== undefined) s.checkpointBytes = update.checkpointBytes;
    this.stats.set(name, s);
  }

  private countRestart(path: string): void {
    for (const [name, { ref }] of this.partitions) {
      if (ref.path !== path) continue;
      this.updateStats(name, {});
      this.stats.get(name)!.restarts++;
    }
  }

  /** Near the heap limit, take no new partitions (the leader reads `full` in the heartbeat). */
  private checkMemory(): void {
    const used = process.memoryUsage().heapUsed;
    const high = this.options.memoryHighWater ?? 0.8;
    // Hysteresis: full above the high water mark, free again 10 points below it.
    const full = this.full ? used > this.heapLimit * (high - 0.1) : used > this.heapLimit * high;
    if (full !== this.full) {
      this.full = full;
      metrics.memoryPressure.set(full ? 1 : 0);
      this.options.log.warn({ heapUsedMb: Math.round(used / 2 ** 20), heapLimitMb: Math.round(this.heapLimit / 2 ** 20) }, full ? 'near the memory limit: taking no new partitions' : 'memory back under the limit: taking partitions again');
    }
  }

  /** Starts running the given partitions of a job (they resume from their checkpoints). */
  assign(jobName: string, partitions: readonly number[]): void {
    const job = this.options.jobs.find((j) => j.name === jobName);
    if (!job) throw new ShardflowError('JOB_UNKNOWN', `worker ${this.id} does not run job ${jobName}`);
    for (const index of partitions) {
      const id = partitionId(job.name, index);
      const name = formatPartitionId(id);
      if (this.partitions.has(name)) continue;
      const env: PartitionEnv = {
        js: this.js,
        publisher: this.publisher,
        store: this.store,
        sink: this.sinks.get(job.name)!,
        workerId: this.id,
        log: this.options.log,
        task: this.taskOptions,
        feed: this.feedLimits,
        maxPayload: this.nc.info?.max_payload ?? 1024 * 1024,
        onFenced: (p) => void this.drop(p),
        upstreamCaughtUp: () => this.routerCaughtUp(job, index % job.routers),
        onStats: (update) => this.updateStats(name, update),
        schemas: this.schemas,
      };
      // Each (re)start gets a fresh actor, which recovers from the partition's latest checkpoint; the
      // slot keeps the lease so a restart resumes it rather than taking the partition again.
      const slot: PartitionSlot = {};
      const ref = this.system.spawn<PartitionMessage>(`${job.name}-${index}`, () => new PartitionActor(job, id, env, slot), { mailboxCapacity: 4, ...ACTOR_RESTARTS });
      this.partitions.set(name, { id, ref });
      metrics.partitionsOwned.inc({ job: job.name });
      if (index < job.routers) this.startRouter(job, index);
    }
  }

  private get taskOptions(): TaskOptions {
    return { checkpointIntervalMs: this.options.checkpointIntervalMs, checkpointEveryMessages: this.options.checkpointEveryEvents };
  }

  /** The owner of partition r (r < the job's router count) also runs router shard r. */
  private startRouter(job: Job<unknown>, router: number): void {
    const id: RouterId = { job: job.name, router };
    const slot: PartitionSlot = {};
    const env: RouterEnv = {
      js: this.js,
      jsm: this.jsm,
      publisher: this.publisher,
      store: this.store,
      workerId: this.id,
      log: this.options.log,
      feed: this.feedLimits,
      maxPayload: this.nc.info?.max_payload ?? 1024 * 1024,
      onFenced: (r) => void this.stopRouter(r, false),
      schemas: this.schemas,
    };
    const ref = this.system.spawn<RouterMessage>(`${job.name}-router-${router}`, () => new IngestRouterActor(job, id, env, slot), { mailboxCapacity: 4, ...ACTOR_RESTARTS });
    this.routers.set(describeCheckpointed(id), { id, ref });
  }

  private async stopRouter(id: RouterId, release: boolean): Promise<void> {
    const name = describeCheckpointed(id);
    const entry = this.routers.get(name);
    if (!entry) return;
    this.routers.delete(name);
    if (release) {
      await entry.ref.ask<number>((replyTo) => ({ type: 'checkpoint', release: true, replyTo }), RELEASE_TIMEOUT_MS).catch((err: unknown) => {
        this.options.log.warn({ router: name, err: String((err as Error).message) }, 'ingest router position not recorded; the next owner re-reads from the previous one (stored once)');
      });
    }
    await entry.ref.stop({ drain: false });
  }

  /** True when router shard `router` of the job has routed everything published so far. */
  private async routerCaughtUp(job: Job<unknown>, router: number): Promise<boolean> {
    const last = (await this.jsm.streams.info(ingestStream(job.name))).state.last_seq;
    if (last === 0) return true;
    const entry = await this.store.inspect({ job: job.name, router });
    return (entry?.entry.seq ?? 0) >= last;
  }

  /** Starts running a source of a job (it resumes from its checkpoint, fencing any previous owner). */
  startSource(id: SourceUnitId): void {
    const name = formatSourceUnitId(id);
    const spec = this.options.jobs.find((j) => j.name === id.job)?.sources.find((src) => src.name === id.source);
    if (!spec) throw new ShardflowError('JOB_UNKNOWN', `worker ${this.id} runs no source ${name}`);
    if (this.sourceRunners.has(name) || this.closing) return;
    const runner = new SourceRunner(id, spec, {
      store: this.store,
      publisher: this.publisher,
      workerId: this.id,
      maxPayload: this.nc.info?.max_payload ?? 1024 * 1024,
      log: this.options.log,
      onFenced: () => {
        // Forgotten: the next reconcile of the assignment claims it afresh if it is still this worker's.
        if (this.sourceRunners.get(name) === runner) {
          this.sourceRunners.delete(name);
          metrics.sourcesOwned.dec({ job: id.job });
        }
      },
    });
    this.sourceRunners.set(name, runner);
    metrics.sourcesOwned.inc({ job: id.job });
    runner.start();
  }

  /** Stops a source after a last checkpoint and gives its lease up (a graceful hand-off). */
  async releaseSource(id: SourceUnitId): Promise<void> {
    const name = formatSourceUnitId(id);
    const runner = this.sourceRunners.get(name);
    if (!runner) return;
    this.sourceRunners.delete(name);
    metrics.sourcesOwned.dec({ job: id.job });
    await runner.stop(true);
  }

  /** Sources this worker runs, as "job/name". */
  get ownedSources(): string[] {
    return [...this.sourceRunners.keys()];
  }

  /** Checkpoints and releases one partition, then stops its actor (a graceful hand-off). */
  async release(jobName: string, index: number): Promise<CheckpointReport | undefined> {
    const id = partitionId(jobName, index);
    const entry = this.partitions.get(formatPartitionId(id));
    if (!entry) return undefined;
    const job = this.options.jobs.find((j) => j.name === jobName);
    if (job && index < job.routers) await this.stopRouter({ job: jobName, router: index }, true);
    let report: CheckpointReport | undefined;
    try {
      report = await entry.ref.ask<CheckpointReport>((replyTo) => ({ type: 'checkpoint', release: true, replyTo }), RELEASE_TIMEOUT_MS);
    } finally {
      await this.drop(id);
    }
    return report;
  }

  /** Graceful stop: checkpoint and release every partition, then close everything. */
  async shutdown(): Promise<CheckpointReport[]> {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    this.follower?.stop();
    await Promise.all([...this.sourceRunners.values()].map((r) => this.releaseSource(r.id)));
    const reports = await Promise.all(
      [...this.partitions.values()].map(({ id }) =>
        this.release(id.job, id.index).catch((err: unknown) => {
          this.options.log.warn({ partition: formatPartitionId(id), err: String((err as Error).message) }, 'final checkpoint failed; the next owner resumes from the previous one');
          return undefined;
        }),
      ),
    );
    await this.system.stop();
    // Leaving: the leader reassigns at once instead of waiting for missed heartbeats.
    await this.coordination?.delete(workerKey(this.id)).catch(() => {});
    for (const sink of this.sinks.values()) await sink.close().catch(() => {});
    await this.publisher.flush().catch(() => {});
    this.publisher.close();
    await this.nc.drain().catch(() => {});
    return reports.filter((r): r is CheckpointReport => r !== undefined);
  }

  private async drop(id: PartitionId): Promise<void> {
    const name = formatPartitionId(id);
    const entry = this.partitions.get(name);
    if (!entry) return;
    this.partitions.delete(name);
    this.lag.delete(name);
    this.stats.delete(name);
    metrics.partitionsOwned.dec({ job: id.job });
    const job = this.options.jobs.find((j) => j.name === id.job);
    if (job && id.index < job.routers) await this.stopRouter({ job: id.job, router: id.index }, false);
    await entry.ref.stop({ drain: false });
  }

  /**
   * An actor that gave up is forgotten: a partition is started again by the next reconcile of the
   * assignment (a fresh claim from its checkpoint), a router at once if this worker still owns the
   * partition it goes with.
   */
  private abandon(path: string): void {
    for (const { id, ref } of this.partitions.values()) {
      if (ref.path === path) {
        void this.drop(id);
        return;
      }
    }
    for (const [name, { id, ref }] of this.routers) {
      if (ref.path !== path) continue;
      this.routers.delete(name);
      const job = this.options.jobs.find((j) => j.name === id.job)!;
      setTimeout(() => {
        if (!this.closing && this.partitions.has(formatPartitionId(partitionId(id.job, id.router))) && !this.routers.has(name)) this.startRouter(job, id.router);
      }, ROUTER_RESTART_MS);
      return;
    }
  }

  private tick(): void {
    if (this.closing) return;
    for (const { ref } of [...this.partitions.values(), ...this.routers.values()] as { ref: ActorRef<{ type: 'tick' }> }[]) {
      if (ref.mailboxSize > 0) continue;
      try {
        ref.tell({ type: 'tick' });
      } catch {
        // Full or stopping: it is busy, which is no time for a tick.
      }
    }
  }
}
