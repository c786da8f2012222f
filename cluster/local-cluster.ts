// The one-command local cluster: an embedded nats-server (the project starts it, with its own store
// folder and port), two coordinators, N workers and a producer feeding the demo job, all on this
// machine, no Docker. Stopping checkpoints first; starting again resumes from the checkpoints, because
// the nats-server store is kept in the data folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { COORDINATION_BUCKET, coordinatorKey, LOCAL_CONTROL_SUBJECT, workerKey } from '../common/names.ts';
import { readLeader } from '../coordinator/protocol.ts';
import type { LocalControlReply, LocalControlRequest } from './local-control.ts';
import { ShardflowError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { seededRandom } from '../common/random.ts';
import type { Job } from '../jobs/define-job.ts';
import { NatsServerProcess, findNatsServerBinary } from './nats-server.ts';
import { JobProducer, produceLive } from './producer.ts';
import { ensureJobTopology } from './topology.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'shardflow.mjs');

export interface LocalClusterOptions {
  dataDir: string;
  natsPort: number;
  coordinators: number;
  workers: number;
  job: Job<unknown>;
  /** How the job was named to `up` (a shipped job's name or a module path), handed to the workers. */
  jobSpec: string;
  /** Events per second the producer publishes (0: none). */
  rate: number;
  log: Logger;
  /** Environment of the child processes (settings are passed on as they are). */
  env: Record<string, string>;
}

/** A child `shardflow` process whose output goes to a log file. */
class Child {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly role: 'coordinator' | 'worker',
    readonly id: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
    private readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process; `ready` tells when it has joined (its heartbeat is in the control plane). */
  async start(ready: () => Promise<boolean>): Promise<void> {
    const out = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, [BIN, this.role, '--id', this.id, ...this.args], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdout!.pipe(out, { end: false });
    child.stderr!.pipe(out, { end: false });
    child.once('exit', () => out.end());
    const deadline = Date.now() + 60_000;
    while (!(await ready())) {
      if (child.exitCode !== null) throw new ShardflowError('CONFIG_INVALID', `${this.role} ${this.id} exited at start with code ${child.exitCode}; see ${this.logFile}`);
      if (Date.now() > deadline) throw new ShardflowError('CONFIG_INVALID', `${this.role} ${this.id} did not start within 60 s; see ${this.logFile}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** kill -9, and wait until it is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (a worker checkpoints and releases its partitions) and wait; SIGKILL after 30 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export class LocalCluster {
  private readonly nats: NatsServerProcess;
  private readonly coordinators: Child[] = [];
  private readonly workers: Child[] = [];
  private nc: NatsConnection | undefined;
  private producing: Promise<void> | undefined;
  private stopProducing = false;
  private kv: KV | undefined;
  private since = 0;
  private stopping = false;
  private readonly restarts = new Set<Promise<void>>();
  produced = 0;
  /** ms after which a process killed with `kill` is started again (a restart policy). */
  static readonly RESTART_AFTER_MS = 1_000;

  private constructor(private readonly options: LocalClusterOptions) {
    this.nats = new NatsServerProcess({ dir: join(options.dataDir, 'nats'), port: options.natsPort }, findNatsServerBinary());
  }

  get natsUrl(): string {
    return this.nats.url;
  }

  get logDir(): string {
    return join(this.options.dataDir, 'logs');
  }

  processes(): { role: string; id: string; pid: number | undefined }[] {
    return [
      { role: 'nats-server', id: 'nats', pid: this.nats.pid },
      ...[...this.coordinators, ...this.workers].map((c) => ({ role: c.role, id: c.id, pid: c.pid })),
    ];
  }

  static async up(options: LocalClusterOptions): Promise<LocalCluster> {
    if (await portTaken(options.natsPort)) {
      throw new ShardflowError(
        'CONFIG_INVALID',
        `port ${options.natsPort} is already in use: another \`shardflow up\` may be running (stop it with Ctrl-C), or choose another port with SHARDFLOW_NATS_URL=nats://127.0.0.1:<port>`,
      );
    }
    const cluster = new LocalCluster(options);
    mkdirSync(cluster.logDir, { recursive: true });
    try {
      await cluster.start();
    } catch (err) {
      await cluster.down().catch(() => {});
      throw err;
    }
    return cluster;
  }

  private async start(): Promise<void> {
    const { log, job } = this.options;
    await this.nats.start();
    log.info({ url: this.nats.url }, 'embedded nats-server started');
    this.nc = await connect({ servers: this.nats.url });
    await ensureJobTopology(this.nc, await jetstreamManager(this.nc), job.name, { replicas: 1 });
    const env = { ...this.options.env, SHARDFLOW_NATS_URL: this.nats.url, SHARDFLOW_METRICS_PORT: '0' };
    for (let i = 1; i <= this.options.coordinators; i++) {
      this.coordinators.push(new Child('coordinator', `c${i}`, [], env, join(this.logDir, `c${i}.log`)));
    }
    for (let i = 1; i <= this.options.workers; i++) this.workers.push(this.newWorker(i));
    this.kv = await new Kvm(this.nc).create(COORDINATION_BUCKET, { history: 1 });
    await Promise.all(this.coordinators.map((c) => this.startChild(c)));
    await Promise.all(this.workers.map((w) => this.startChild(w)));
    if (this.options.rate > 0 && job.generate) this.producing = this.produce();
  }

  /** Starts a child and waits until its heartbeat shows it joined the cluster. */
  private startChild(child: Child): Promise<void> {
    const since = Date.now();
    const key = child.role === 'worker' ? workerKey(child.id) : coordinatorKey(child.id);
    return child.start(async () => {
      const e = await this.kv!.get(key);
      return e?.operation === 'PUT' && (e.json() as { at: number }).at >= since;
    });
  }

  private newWorker(index: number): Child {
    const env = { ...this.options.env, SHARDFLOW_NATS_URL: this.nats.url, SHARDFLOW_METRICS_PORT: '0' };
    return new Child('worker', `w${index}`, ['--job', this.options.jobSpec], env, join(this.logDir, `w${index}.log`));
  }

  /** Workers running now. */
  workerIds(): string[] {
    return this.workers.map((w) => w.id);
  }

  /** Starts or gracefully stops workers until `count` run (the newest stop first). */
  async scale(count: number): Promise<string[]> {
    if (!Number.isInteger(count) || count < 1) throw new ShardflowError('CONFIG_INVALID', `scale: --workers must be a whole number >= 1, got ${count}`);
    while (this.workers.length < count) {
      const used = new Set(this.workers.map((w) => w.id));
      let i = 1;
      while (used.has(`w${i}`)) i++;
      const w = this.newWorker(i);
      this.workers.push(w);
      await this.startChild(w);
    }
    const leaving = this.workers.splice(count);
    await Promise.all(leaving.map((w) => w.stop()));
    return this.workerIds();
  }

  /** kill -9 of one process; it is started again after RESTART_AFTER_MS, as a supervisor would. */
  async kill(target: 'worker' | 'coordinator' | 'leader', id?: string): Promise<{ role: string; id: string; pid: number | undefined }> {
    let victim: Child | undefined;
    if (target === 'leader') {
      const leaderId = (await readLeader(this.kv!))?.id;
      victim = this.coordinators.find((c) => c.id === leaderId);
      if (!victim) throw new ShardflowError('CONFIG_INVALID', 'kill leader: there is no leader right now; try again in a second');
    } else {
      const pool = (target === 'worker' ? this.workers : this.coordinators).filter((c) => c.running);
      victim = id ? pool.find((c) => c.id === id) : pool[Math.floor(Math.random() * pool.length)];
      if (!victim) throw new ShardflowError('CONFIG_INVALID', `kill ${target}: ${id ? `no running ${target} ${id}` : `no running ${target}`}; see \`shardflow status\``);
    }
    const killed = { role: victim.role, id: victim.id, pid: victim.pid };
    await victim.kill();
    this.options.log.warn(killed, 'process killed with SIGKILL; restarting it shortly');
    const restart = (async () => {
      await new Promise((r) => setTimeout(r, LocalCluster.RESTART_AFTER_MS));
      const stillMember = [...this.workers, ...this.coordinators].includes(victim);
      if (!this.stopping && stillMember && !victim.running) await this.startChild(victim).catch((err: unknown) => this.options.log.error({ id: victim.id, err: (err as Error).message }, 'restart failed'));
    })();
    this.restarts.add(restart);
    void restart.finally(() => this.restarts.delete(restart));
    return killed;
  }

  /** Answers `scale`, `kill` and `down` requests; `onDown` is called for `down` after the reply. */
  serveControl(onDown: () => void): void {
    const sub = this.nc!.subscribe(LOCAL_CONTROL_SUBJECT);
    void (async () => {
      for await (const m of sub) {
        let reply: LocalControlReply;
        let down = false;
        try {
          const req = m.json() as LocalControlRequest;
          if (req.op === 'scale') reply = { ok: true, workers: await this.scale(req.workers) };
          else if (req.op === 'kill') reply = { ok: true, killed: await this.kill(req.target, req.id) };
          else if (req.op === 'down') {
            reply = { ok: true, stopping: true };
            down = true;
          } else reply = { ok: false, error: `unknown request ${JSON.stringify(req)}` };
        } catch (err) {
          reply = { ok: false, error: (err as Error).message };
        }
        m.respond(JSON.stringify(reply));
        if (down) onDown();
      }
    })();
  }

  /** Events of the job's generator at the configured rate, event time = now, until stopped. */
  private async produce(): Promise<void> {
    const { job, rate } = this.options;
    const producer = new JobProducer(jetstream(this.nc!), job, { producerId: `up-${Date.now()}` });
    await produceLive(producer, job, rate, seededRandom(Date.now() & 0xffffff), () => {
      this.produced = producer.published;
      return this.stopProducing;
    });
  }

  /** Stops everything, workers first so that they checkpoint and release their partitions. */
  async down(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.restarts]);
    this.stopProducing = true;
    await this.producing?.catch(() => {});
    await Promise.all(this.workers.map((w) => w.stop()));
    await Promise.all(this.coordinators.map((c) => c.stop()));
    await this.nc?.close().catch(() => {});
    await this.nats.stop();
  }
}

function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
