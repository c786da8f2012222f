// A worker process: connects to NATS, makes sure each job's streams and buckets exist, runs one
// partition actor per partition it owns, ticks them (checkpoint interval, idleness), and on a graceful
// stop checkpoints and releases every partition before it exits.
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ActorSystem, type ActorRef } from '../actors/index.ts';
import type { KV } from '@nats-io/kv';
import { CHECKPOINTS_BUCKET, COORDINATION_BUCKET, ingestStream, ROUTER_PARTITION, workerKey } from '../common/names.ts';
import type { WorkerHeartbeat } from '../coordinator/protocol.ts';
import { followAssignments, type AssignmentFollower } from './assignment-follower.ts';
import type { Logger } from '../common/logger.ts';
import { metrics } from '../common/metrics.ts';
import type { Job } from '../jobs/define-job.ts';
import { KvCheckpointStore } from './checkpoint-store.ts';
import { PartitionActor, type PartitionEnv, type PartitionSlot } from './partition-actor.ts';
import type { CheckpointReport, PartitionMessage, RouterMessage } from './protocol.ts';
import { openSink, type Sink } from './sinks/index.ts';
import { ensureJobTopology, openBucket } from './topology.ts';
import { IngestRouterActor, type RouterEnv } from './ingest-router.ts';

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
  log: Logger;
}

const TICK_MS = 200;

export class Worker {
  private readonly system: ActorSystem;
  private readonly partitions = new Map<string, ActorRef<PartitionMessage>>();
  private readonly sinks = new Map<string, Sink>();
  private readonly routers = new Map<string, ActorRef<RouterMessage>>();
  private readonly jsm: JetStreamManager;
  private readonly timer: ReturnType<typeof setInterval>;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private follower: AssignmentFollower | undefined;
  private coordination: KV | undefined;
  private readonly lag = new Map<string, number>();
  private closing = false;

  private constructor(
    private readonly options: WorkerOptions,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly store: KvCheckpointStore,
    jsm: JetStreamManager,
  ) {
    this.jsm = jsm;
    const log = options.log;
    this.system = new ActorSystem({
      onEvent: (e) => {
        if (e.type === 'failed') log.warn({ path: e.path, phase: e.phase, err: String((e.error as Error)?.message ?? e.error) }, 'actor failed');
        else if (e.type === 'restarted') log.info({ path: e.path, restarts: e.restarts, backoffMs: e.backoffMs }, 'actor restarted from its checkpoint');
        else if (e.type === 'escalated') {
          log.error({ path: e.path, err: e.error.message }, 'actor gave up after repeated failures; it is started again afresh');
          this.abandon(e.path);
        }
      },
    });
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  static async start(options: WorkerOptions): Promise<Worker> {
    const nc = await connect({ servers: options.natsUrl.split(','), name: options.id, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const jsm = await jetstreamManager(nc);
    for (const job of options.jobs) await ensureJobTopology(nc, jsm, job.name, { replicas: options.replicas });
    const kv = await openBucket(nc, CHECKPOINTS_BUCKET, options.replicas);
    const chunkSize = Math.max(64 * 1024, nc.info!.max_payload - 64 * 1024);
    const worker = new Worker(options, nc, jetstream(nc), new KvCheckpointStore(kv, chunkSize), jsm);
    for (const job of options.jobs) worker.sinks.set(job.name, await openSink(nc, job, options.replicas));
    await worker.startCoordination();
    return worker;
  }

  get id(): string {
    return this.options.id;
  }

  /** Heartbeats (always, for membership and `status`) and, when coordinated, following assignments. */
  private async startCoordination(): Promise<void> {
    this.coordination = await openBucket(this.nc, COORDINATION_BUCKET, this.options.replicas);
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.options.heartbeatMs);
    if (this.options.mode === 'coordinated') {
      this.follower = await followAssignments(this.coordination, this.store, {
        id: this.id,
        jobs: this.options.jobs.map((j) => j.name),
        owned: () => this.owned.map((name) => name.replace(/-(\d+)$/, '/$1')),
        start: (job, p) => this.assign(job, [p]),
        release: (job, p) => this.release(job, p),
      }, this.options.log);
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.closing || !this.coordination) return;
    const owned = this.owned.map((name) => name.replace(/-(\d+)$/, '/$1'));
    const hb: WorkerHeartbeat = {
      id: this.id,
      at: Date.now(),
      // A statically assigned worker announces no jobs, so the leader never assigns it anything.
      jobs: this.options.mode === 'coordinated' ? this.options.jobs.map((j) => ({ name: j.name, partitions: j.partitions })) : [],
      owned,
      lag: Object.fromEntries(owned.map((k) => [k, this.lag.get(k) ?? 0])),
      metricsPort: this.options.metricsPort,
    };
    await this.coordination.put(workerKey(this.id), JSON.stringify(hb)).catch(() => {});
  }

  /** Partitions this worker runs, as "job/partition". */
  get owned(): string[] {
    return [...this.partitions.keys()];
  }

  /** Starts running the given partitions of a job (they resume from their checkpoints). */
  assign(jobName: string, partitions: readonly number[]): void {
    const job = this.options.jobs.find((j) => j.name === jobName);
    if (!job) throw new Error(`worker ${this.id} does not run job ${jobName}`);
    for (const p of partitions) {
      const name = `${job.name}-${p}`;
      if (this.partitions.has(name)) continue;
      const env: PartitionEnv = {
        js: this.js,
        store: this.store,
        sink: this.sinks.get(job.name)!,
        workerId: this.id,
        log: this.options.log,
        checkpointIntervalMs: this.options.checkpointIntervalMs,
        checkpointEveryEvents: this.options.checkpointEveryEvents,
        onFenced: (j, partition) => void this.drop(j, partition),
        upstreamCaughtUp: () => this.routerCaughtUp(job.name),
        onLag: (lag) => this.lag.set(`${job.name}/${p}`, lag),
      };
      // Each (re)start gets a fresh actor, which recovers from the partition's latest checkpoint; the
      // slot keeps the lease so a restart resumes it rather than taking the partition again.
      const slot: PartitionSlot = {};
      const ref = this.system.spawn<PartitionMessage>(name, () => new PartitionActor(job, p, env, slot), {
        mailboxCapacity: 8,
        minBackoffMs: 100,
        maxBackoffMs: 2_000,
        maxRestarts: 30,
        withinMs: 60_000,
      });
      this.partitions.set(name, ref);
      metrics.partitionsOwned.inc({ job: job.name });
      if (p === 0) this.startRouter(job);
    }
  }

  /** The owner of partition 0 of a job also runs its ingest router. */
  private startRouter(job: Job<unknown>): void {
    const slot: PartitionSlot = {};
    const env: RouterEnv = {
      js: this.js,
      store: this.store,
      workerId: this.id,
      log: this.options.log,
      checkpointIntervalMs: Math.min(this.options.checkpointIntervalMs, 500),
      onFenced: (j) => void this.stopRouter(j, false),
    };
    const ref = this.system.spawn<RouterMessage>(`${job.name}-router`, () => new IngestRouterActor(job, env, slot), {
      mailboxCapacity: 4,
      minBackoffMs: 100,
      maxBackoffMs: 2_000,
      maxRestarts: 30,
      withinMs: 60_000,
    });
    this.routers.set(job.name, ref);
  }

  private async stopRouter(jobName: string, release: boolean): Promise<void> {
    const ref = this.routers.get(jobName);
    if (!ref) return;
    this.routers.delete(jobName);
    if (release) {
      await ref.ask<number>((replyTo) => ({ type: 'checkpoint', release: true, replyTo }), 15_000).catch((err: unknown) => {
        this.options.log.warn({ job: jobName, err: String((err as Error).message) }, 'ingest router position not recorded; the next owner re-routes from the previous one (stored once)');
      });
    }
    await ref.stop({ drain: false });
  }

  /** True when the job's ingest router has routed everything published so far. */
  private async routerCaughtUp(jobName: string): Promise<boolean> {
    const last = (await this.jsm.streams.info(ingestStream(jobName))).state.last_seq;
    if (last === 0) return true;
    const router = await this.store.inspect(jobName, ROUTER_PARTITION);
    return (router?.entry.seq ?? 0) >= last;
  }

  /** Checkpoints and releases one partition, then stops its actor (a graceful hand-off). */
  async release(jobName: string, partition: number): Promise<CheckpointReport | undefined> {
    const name = `${jobName}-${partition}`;
    const ref = this.partitions.get(name);
    if (!ref) return undefined;
    if (partition === 0) await this.stopRouter(jobName, true);
    let report: CheckpointReport | undefined;
    try {
      report = await ref.ask<CheckpointReport>((replyTo) => ({ type: 'checkpoint', release: true, replyTo }), 15_000);
    } finally {
      await this.drop(jobName, partition);
    }
    return report;
  }

  /** Graceful stop: checkpoint and release every partition, then close everything. */
  async shutdown(): Promise<CheckpointReport[]> {
    this.closing = true;
    clearInterval(this.timer);
    clearInterval(this.heartbeatTimer);
    this.follower?.stop();
    const reports = await Promise.all(
      [...this.partitions.keys()].map(async (name) => {
        const i = name.lastIndexOf('-');
        return this.release(name.slice(0, i), Number(name.slice(i + 1))).catch((err: unknown) => {
          this.options.log.warn({ partition: name, err: String((err as Error).message) }, 'final checkpoint failed; the next owner resumes from the previous one');
          return undefined;
        });
      }),
    );
    await this.system.stop();
    // Leaving: the leader reassigns at once instead of waiting for missed heartbeats.
    await this.coordination?.delete(workerKey(this.id)).catch(() => {});
    for (const sink of this.sinks.values()) await sink.close().catch(() => {});
    await this.nc.drain().catch(() => {});
    return reports.filter((r): r is CheckpointReport => r !== undefined);
  }

  private async drop(jobName: string, partition: number): Promise<void> {
    const name = `${jobName}-${partition}`;
    const ref = this.partitions.get(name);
    if (!ref) return;
    this.partitions.delete(name);
    metrics.partitionsOwned.dec({ job: jobName });
    if (partition === 0) await this.stopRouter(jobName, false);
    await ref.stop({ drain: false });
  }

  /**
   * An actor that gave up is forgotten: a partition is started again by the next reconcile of the
   * assignment (a fresh claim from its checkpoint), a router at once if this worker still owns
   * partition 0 of its job.
   */
  private abandon(path: string): void {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (this.partitions.has(name)) {
      const i = name.lastIndexOf('-');
      void this.drop(name.slice(0, i), Number(name.slice(i + 1)));
      return;
    }
    const job = this.options.jobs.find((j) => name === `${j.name}-router`);
    if (!job || this.routers.get(job.name)?.path !== path) return;
    this.routers.delete(job.name);
    setTimeout(() => {
      if (!this.closing && this.partitions.has(`${job.name}-0`) && !this.routers.has(job.name)) this.startRouter(job);
    }, 1_000);
  }

  private tick(): void {
    if (this.closing) return;
    for (const ref of [...this.partitions.values(), ...this.routers.values()] as ActorRef<{ type: 'tick' }>[]) {
      if (ref.mailboxSize > 0) continue;
      try {
        ref.tell({ type: 'tick' });
      } catch {
        // Full or stopping: it is busy, which is no time for a tick.
      }
    }
  }
}
