// The one-command local cluster: an embedded nats-server (the project starts it, with its own store
// folder and port), two coordinators, N workers and a producer feeding the demo job, all on this
// machine, no Docker. Stopping checkpoints first; starting again resumes from the checkpoints, because
// the nats-server store is kept in the data folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { COORDINATION_BUCKET, coordinatorKey, workerKey } from '../common/names.ts';
import { ShardflowError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { seededRandom } from '../common/random.ts';
import type { Job } from '../jobs/define-job.ts';
import { NatsServerProcess, findNatsServerBinary } from './nats-server.ts';
import { JobProducer } from './producer.ts';
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
  produced = 0;

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
    for (let i = 1; i <= this.options.workers; i++) {
      this.workers.push(new Child('worker', `w${i}`, ['--job', this.options.jobSpec], env, join(this.logDir, `w${i}.log`)));
    }
    const kv = await new Kvm(this.nc).create(COORDINATION_BUCKET, { history: 1 });
    const since = Date.now();
    const joined = (key: string) => async () => {
      const e = await kv.get(key);
      return e?.operation === 'PUT' && (e.json() as { at: number }).at >= since;
    };
    await Promise.all(this.coordinators.map((c) => c.start(joined(coordinatorKey(c.id)))));
    await Promise.all(this.workers.map((w) => w.start(joined(workerKey(w.id)))));
    if (this.options.rate > 0 && job.generate) this.producing = this.produce();
  }

  /** Events of the job's generator at the configured rate, event time = now, until stopped. */
  private async produce(): Promise<void> {
    const { job, rate } = this.options;
    const producer = new JobProducer(jetstream(this.nc!), job, { producerId: `up-${Date.now()}` });
    const random = seededRandom(Date.now() & 0xffffff);
    const began = Date.now();
    for (let i = 0; !this.stopProducing; i++) {
      const due = began + (i * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      // The generator spaces events 50 ms apart in event time; anchor them so the latest is now.
      await producer.publish(job.generate!(random, i, Date.now() - i * 50));
      this.produced++;
    }
    await producer.flush();
  }

  /** Stops everything, workers first so that they checkpoint and release their partitions. */
  async down(): Promise<void> {
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
