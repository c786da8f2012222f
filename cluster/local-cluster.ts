// The one-command local cluster: an embedded nats-server (the project starts it, with its own store
// folder and port), two coordinators, N workers and a producer feeding the demo job, all on this
// machine, no Docker. Stopping checkpoints first; starting again resumes from the checkpoints, because
// the nats-server store is kept in the data folder. For chaos runs it can also run on a 3-node NATS
// cluster (streams and buckets with 3 replicas), pause and resume processes, restart one on purpose
// and kill -9 / restart a NATS node. What it keeps on disk has ceilings: the NATS store
// (SHARDFLOW_NATS_MAX_STORE) and each process's log (rotated by size).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { createStream } from 'rotating-file-stream';
import { jetstreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { COORDINATION_BUCKET, coordinatorKey, inputStream, LOCAL_CONTROL_SUBJECT, workerKey } from '../common/names.ts';
import { readLeader } from '../coordinator/protocol.ts';
import type { LocalControlReply, LocalControlRequest } from './local-control.ts';
import { loadConfig } from '../common/config.ts';
import { ShardflowError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { seededRandom } from '../common/random.ts';
import { HISTORY_MS, JETSTREAM_READY_TIMEOUT_MS, PROCESS_START_TIMEOUT_MS, PROCESS_STOP_GRACE_MS, RESTART_AFTER_MS } from '../common/timing.ts';
import type { Job } from '../jobs/define-job.ts';
import { NatsServerProcess, findNatsServerBinary, natsClusterNodes, natsHostNodes } from './nats-server.ts';
import type { Placement, RunOn } from './placement.ts';
import { JobProducer, produceHistory, produceLive } from './producer.ts';
import { ensureJobTopology, openBucket } from '../nats/topology.ts';
import { accessEnvironment, connectNats, type NatsAccess } from '../nats/connect.ts';
import { authorizationBlock, type Role } from '../nats/roles.ts';
import { authFolder, LocalCredentials, localWorkerId, MAX_LOCAL_WORKERS } from './local-credentials.ts';
import { ensureLocalTls, type LocalTlsFiles } from './local-tls.ts';

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
  /** 1 (default): one embedded nats-server on natsPort. 3: a 3-node JetStream cluster on free ports
   *  (natsPort unused), streams and buckets with 3 replicas, so that one node may die. */
  natsNodes?: 1 | 3;
  /** Ceiling of each NATS server's JetStream store, bytes; default: SHARDFLOW_NATS_MAX_STORE of `env`. */
  natsMaxStoreBytes?: number;
  /** Mutual TLS between every process and NATS, with a local CA made for the cluster (cluster/local-tls.ts). */
  tls?: boolean;
  /** A multi-host cluster (cluster/placement.ts): one clustered NATS node per host (natsNodes and
   *  natsPort unused), every process started on its host and talking over the hosts' addresses. */
  placement?: Placement;
  /** Start the web console (`shardflow console`) on this port (of SHARDFLOW_CONSOLE_HOST); none if undefined. */
  consolePort?: number;
}

/** Size at which a process's log is rotated, MiB; with LOG_FILES_KEPT older files (gzipped), one
 *  process's logs never take more than about 60 MiB, however long the cluster runs. */
export const LOG_FILE_MIB = 10;
export const LOG_FILES_KEPT = 5;

/**
 * A log file that rotates by size: `<file>` is always the current one, `<file>.1.gz` the newest
 * rotated one, up to `<file>.5.gz`, the oldest, which the next rotation deletes. Appends to an existing
 * file, so that a process's log goes on across its restarts and across `npm start`s. A failure to
 * write (disk full) is reported to `onError` and ends the stream, never the launcher.
 */
export function openProcessLog(file: string, onError: (err: Error) => void = () => {}): Writable {
  const stream = createStream(file, { size: `${LOG_FILE_MIB}M`, rotate: LOG_FILES_KEPT, compress: 'gzip' });
  stream.on('error', onError);
  stream.on('warning', onError);
  return stream;
}

/** A child `shardflow` process whose output goes to a log file. */
class Child {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** Set by kill() and stop(): the exit that follows is ours, not a crash. */
  private deliberate = false;
  /** Called when the process exits on its own after having started (a crash). */
  onCrash: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  /** One log stream across the process's restarts: two streams rotating the same file would rename
   *  it under each other. */
  private out: Writable | undefined;

  constructor(
    readonly role: 'coordinator' | 'worker' | 'console',
    readonly id: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
    private readonly logFile: string,
    private readonly onLogError: (err: Error) => void,
    /** The host it runs on in a multi-host cluster. */
    readonly runOn?: RunOn,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process; `ready` tells when it has joined (its heartbeat is in the control plane). */
  async start(ready: () => Promise<boolean>): Promise<void> {
    if (!this.out || this.out.destroyed) this.out = openProcessLog(this.logFile, this.onLogError);
    const out = this.out;
    const [program, ...prefix] = [...(this.runOn?.command ?? []), process.execPath];
    const child = spawn(program!, [...prefix, BIN, this.role, '--id', this.id, ...this.args], { env: { ...this.env, ...this.runOn?.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.deliberate = false;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let started = false;
    child.once('exit', (code, signal) => {
      if (started && !this.deliberate) this.onCrash?.(code, signal);
    });
    child.stdout!.pipe(out, { end: false });
    child.stderr!.pipe(out, { end: false });
    // A log that failed must not block the process on a full pipe: its output is dropped instead.
    const logFailed = () => {
      child.stdout!.resume();
      child.stderr!.resume();
    };
    out.once('error', logFailed);
    child.once('close', () => out.off('error', logFailed));
    const deadline = Date.now() + PROCESS_START_TIMEOUT_MS;
    while (!(await ready())) {
      if (child.exitCode !== null) throw new ShardflowError('PROCESS_FAILED', `${this.role} ${this.id} exited at start with code ${child.exitCode}; see ${this.logFile}`);
      if (Date.now() > deadline) throw new ShardflowError('PROCESS_FAILED', `${this.role} ${this.id} did not start within ${PROCESS_START_TIMEOUT_MS / 1000} s; see ${this.logFile}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    started = true;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGSTOP / SIGCONT: a paused process keeps its sockets but answers nothing (a zombie owner). */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child!.kill(signal);
  }

  /** kill -9, and wait until it is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.deliberate = true;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (a worker checkpoints and releases its partitions) and wait; SIGKILL after PROCESS_STOP_GRACE_MS. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.deliberate = true;
    // A paused process would not see SIGTERM until resumed.
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), PROCESS_STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Flushes and closes the log, once the process is stopped for good. */
  async closeLog(): Promise<void> {
    const out = this.out;
    this.out = undefined;
    if (!out || out.destroyed) return;
    await new Promise<void>((resolve) => out.end(resolve));
  }
}

export type ProcessInfo = { role: string; id: string; pid: number | undefined; host?: string };

/** Version of what a data folder's NATS store holds (input subjects, checkpoint snapshots, ...), in
 *  `<data dir>/FORMAT`. Raise it when a release can no longer read what the previous one wrote; a store
 *  without the file is from before it existed (format 1). */
export const DATA_FORMAT = 2;

const MiB = 1024 * 1024;

export class LocalCluster {
  private readonly natsServers: NatsServerProcess[] = [];
  private readonly coordinators: Child[] = [];
  private readonly workers: Child[] = [];
  private consoleChild: Child | undefined;
  private nc: NatsConnection | undefined;
  private producing: Promise<void> | undefined;
  private stopProducing = false;
  private kv: KV | undefined;
  private stopping = false;
  private readonly restarts = new Set<Promise<void>>();
  /** Hosts killed as a whole (host-kill): their processes are not restarted until the host is. */
  private readonly downHosts = new Set<string>();
  /** Where a log that fails to be written is reported (the launcher's own log). */
  private readonly logFailed = (err: Error) => this.options.log.warn({ err: err.message }, 'a process log could not be written');
  produced = 0;
  /** Coordinators and workers that exited on their own (and were restarted). */
  crashes: { id: string; code: number | null; signal: string | null; at: number }[] = [];

  private readonly credentials: LocalCredentials;
  private readonly tls: LocalTlsFiles | undefined;

  private constructor(
    private readonly options: LocalClusterOptions,
    private readonly natsMaxStoreBytes: number,
  ) {
    this.credentials = LocalCredentials.open(options.dataDir);
    this.tls = options.tls ? ensureLocalTls(join(authFolder(options.dataDir), 'tls')) : undefined;
    this.credentials.useTls(this.tls ? { ca: this.tls.ca, cert: this.tls.clientCert, key: this.tls.clientKey } : undefined);
  }

  private get replicas(): number {
    if (this.options.placement) return Math.min(3, this.options.placement.natsNodes.length);
    return this.options.natsNodes === 3 ? 3 : 1;
  }

  /** Every NATS server of the cluster, comma-separated (clients fail over between them). */
  get natsUrl(): string {
    return this.natsServers.map((s) => s.url).join(',');
  }

  /** Names of the NATS nodes (n1, n2, n3 in a 3-node cluster; nats otherwise). */
  natsNodeNames(): string[] {
    return this.natsServers.map((s) => s.options.name ?? 'nats');
  }

  get logDir(): string {
    return join(this.options.dataDir, 'logs');
  }

  processes(): ProcessInfo[] {
    const hostOfNode = (i: number) => this.options.placement?.natsNodes[i]?.host;
    return [
      ...this.natsServers.map((s, i) => ({ role: 'nats-server', id: s.options.name ?? 'nats', pid: s.pid, ...(hostOfNode(i) ? { host: hostOfNode(i) } : {}) })),
      ...[...this.coordinators, ...this.workers, ...(this.consoleChild ? [this.consoleChild] : [])].map((c) => ({ role: c.role, id: c.id, pid: c.pid, ...(c.runOn ? { host: c.runOn.host } : {}) })),
    ];
  }

  static async up(options: LocalClusterOptions): Promise<LocalCluster> {
    if (options.natsNodes !== 3 && !options.placement && (await portTaken(options.natsPort))) {
      throw new ShardflowError(
        'CONFIG_INVALID',
        `port ${options.natsPort} is already in use: another \`shardflow up\` may be running (stop it with Ctrl-C), or choose another port with SHARDFLOW_NATS_URL=nats://127.0.0.1:<port>`,
      );
    }
    const maxStore = options.natsMaxStoreBytes ?? loadConfig(options.env).NATS_MAX_STORE;
    // JetStream would refuse the job's streams, and a single server would not say why this clearly.
    const reserved = Object.values(options.job.retention).reduce((sum, r) => sum + r.maxBytes, 0);
    if (reserved > maxStore) {
      throw new ShardflowError(
        'CONFIG_INVALID',
        `the streams of job ${options.job.name} reserve ${Math.ceil(reserved / MiB)} MiB of the NATS store (the maxBytes of its retention) but SHARDFLOW_NATS_MAX_STORE allows ${Math.floor(maxStore / MiB)} MiB: raise SHARDFLOW_NATS_MAX_STORE (e.g. ${Math.ceil((2 * reserved) / 1024 / MiB)}GiB) or lower the job's retention`,
      );
    }
    claimDataFolder(options.dataDir);
    const cluster = new LocalCluster(options, maxStore);
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
    await this.startNats();
    log.info({ url: this.natsUrl }, 'embedded nats-server started');
    this.nc = await connectNats(this.access('admin'), { name: 'shardflow-up', persistent: true });
    const nc = this.nc;
    await whenJetStreamReady("create the job's streams and buckets", async () => ensureJobTopology(nc, await jetstreamManager(nc), job.name, { replicas: this.replicas }));
    for (let i = 1; i <= this.options.coordinators; i++) {
      const runOn = this.options.placement?.coordinator(i);
      this.coordinators.push(this.supervised(new Child('coordinator', `c${i}`, [], this.childEnv('coordinator', `c${i}`, runOn), this.logFile(`c${i}`), this.logFailed, runOn)));
    }
    for (let i = 1; i <= this.options.workers; i++) this.workers.push(this.newWorker(i));
    this.kv = await whenJetStreamReady('create the coordination bucket', () => openBucket(nc, COORDINATION_BUCKET, this.replicas));
    await Promise.all(this.coordinators.map((c) => this.startChild(c)));
    await Promise.all(this.workers.map((w) => this.startChild(w)));
    if (this.options.consolePort !== undefined) await this.startConsole(this.options.consolePort);
    if (this.options.rate > 0 && job.generate) {
      // A producer that fails for good (its publishes refused past the retry window) stops producing;
      // the cluster goes on.
      this.producing = this.produce().catch((err: unknown) => log.error({ err: (err as Error).message }, 'the demo producer stopped'));
    }
  }

  /** The web console, with the admin credential (it steers the cluster) and the token its actions need. */
  private async startConsole(port: number): Promise<void> {
    const env = { ...this.childEnv('admin', 'console'), SHARDFLOW_CONSOLE_PORT: String(port), SHARDFLOW_CONSOLE_TOKEN: this.credentials.consoleToken() };
    this.consoleChild = this.supervised(new Child('console', 'console', [], env, this.logFile('console'), this.logFailed));
    await this.startChild(this.consoleChild);
  }

  /** Where the web console answers, when the cluster runs one. */
  get consoleUrl(): string | undefined {
    if (this.options.consolePort === undefined) return undefined;
    const host = loadConfig(this.options.env).CONSOLE_HOST;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.options.consolePort}`;
  }

  /** Starts a child and waits until its heartbeat shows it joined the cluster (the console: until it
   *  answers on /api/health). */
  private startChild(child: Child): Promise<void> {
    if (child.role === 'console') {
      const url = `${this.consoleUrl}/api/health`;
      return child.start(async () => (await fetch(url).catch(() => undefined))?.ok === true);
    }
    const since = Date.now();
    const key = child.role === 'worker' ? workerKey(child.id) : coordinatorKey(child.id);
    return child.start(async () => {
      // A read may fail while a NATS node is down: not joined yet, ask again.
      const e = await this.kv!.get(key).catch(() => null);
      // Judged by the server's stamp, not the process's own `at`: a process may run with a skewed clock.
      return e?.operation === 'PUT' && e.created.getTime() >= since;
    });
  }

  /** One server, or a 3-node cluster whose nodes route to each other (ports picked free). */
  private async startNats(): Promise<void> {
    const dir = join(this.options.dataDir, 'nats');
    // Nobody gets in without one of the cluster's credentials, and each role only as far as it must.
    const limits = {
      maxStoreBytes: this.natsMaxStoreBytes,
      access: authorizationBlock(this.credentials.users(), [this.options.job.name]),
      ...(this.tls ? { tls: { certFile: this.tls.serverCert, keyFile: this.tls.serverKey, caFile: this.tls.ca, verify: true } } : {}),
    };
    if (this.options.placement) this.natsServers.push(...natsHostNodes(dir, this.options.placement.natsNodes, limits));
    else if (this.options.natsNodes === 3) this.natsServers.push(...(await natsClusterNodes(dir, 3, undefined, limits)));
    else this.natsServers.push(new NatsServerProcess({ dir, port: this.options.natsPort, ...limits }, findNatsServerBinary()));
    await Promise.all(this.natsServers.map((s) => s.start()));
  }

  /** Records where the cluster runs next to its credentials, so that `shardflow` commands run from
   *  the same folder find the admin credential, and writes the env files people source. */
  publishCredentials(): { producerEnv: string; adminEnv: string; viewerEnv: string } {
    return this.credentials.publish(this.natsUrl);
  }

  /** How a process of `role` (a worker: the worker `workerId`) gets into the cluster's NATS. */
  access(role: Role, workerId?: string): NatsAccess {
    return this.credentials.access(role, this.natsUrl, workerId);
  }

  /** The settings of a child: the launcher's, with the credential of the child's own role instead of
   *  any the launcher was given. */
  private childEnv(role: 'coordinator' | 'worker' | 'admin', id: string, runOn?: RunOn): Record<string, string> {
    const inherited = Object.entries(this.options.env).filter(([k]) => !k.startsWith('SHARDFLOW_NATS_') || k === 'SHARDFLOW_NATS_MAX_STORE');
    const access = this.access(role, id);
    // On a host, its own NATS node first: the others are reached across the network.
    const own = runOn ? this.natsServers.find((s) => s.host === runOn.address)?.url : undefined;
    const servers = own ? [own, ...access.servers.split(',').filter((u) => u !== own)].join(',') : access.servers;
    const env: Record<string, string> = { ...Object.fromEntries(inherited), ...accessEnvironment({ ...access, servers }), SHARDFLOW_METRICS_PORT: '0' };
    // Children create the same streams and buckets; their replicas must match or JetStream refuses.
    if (this.replicas > 1) env.SHARDFLOW_REPLICAS = String(this.replicas);
    return env;
  }

  private newWorker(index: number): Child {
    const id = localWorkerId(index);
    const runOn = this.options.placement?.worker(index);
    return this.supervised(new Child('worker', id, ['--job', this.options.jobSpec], this.childEnv('worker', id, runOn), this.logFile(id), this.logFailed, runOn));
  }

  /** The current log file of a coordinator or worker (appended to across its restarts; rotated to
   *  `<file>.1.gz` .. `<file>.5.gz` past 10 MiB, see openProcessLog). */
  logFile(id: string): string {
    return join(this.logDir, `${id}.log`);
  }

  /** Coordinators of the cluster (running or not). */
  coordinatorIds(): string[] {
    return this.coordinators.map((c) => c.id);
  }

  private child(id: string): Child {
    const child = [...this.coordinators, ...this.workers].find((c) => c.id === id);
    if (!child) throw new ShardflowError('CONFIG_INVALID', `no process ${id} in the local cluster; see \`shardflow status\``);
    return child;
  }

  /** SIGSTOP of a coordinator or worker: it stops heartbeating but keeps believing it owns things. */
  pause(id: string): ProcessInfo {
    const c = this.child(id);
    c.signal('SIGSTOP');
    return { role: c.role, id: c.id, pid: c.pid };
  }

  /** SIGCONT of a paused process. */
  resume(id: string): ProcessInfo {
    const c = this.child(id);
    c.signal('SIGCONT');
    return { role: c.role, id: c.id, pid: c.pid };
  }

  /** Restarts one process now: gracefully (SIGTERM, a worker checkpoints and releases first) or with
   *  kill -9. Resolves once the new process has joined; returns the old and new pids. */
  async restart(id: string, how: 'graceful' | 'kill'): Promise<{ role: string; id: string; oldPid: number | undefined; pid: number | undefined }> {
    const c = this.child(id);
    const oldPid = c.pid;
    if (how === 'graceful') await c.stop();
    else await c.kill();
    await this.startChild(c);
    return { role: c.role, id: c.id, oldPid, pid: c.pid };
  }

  /** kill -9 of one NATS node of a 3-node cluster (by name, e.g. n2); clients fail over to the others. */
  async killNatsNode(name: string): Promise<ProcessInfo> {
    const server = this.natsServer(name);
    const pid = server.pid;
    await server.kill();
    this.options.log.warn({ node: name, pid }, 'nats-server node killed with SIGKILL');
    return { role: 'nats-server', id: name, pid };
  }

  /** Starts a killed NATS node again on its port and store; it catches up with the cluster. */
  async restartNatsNode(name: string): Promise<ProcessInfo> {
    const server = this.natsServer(name);
    await server.start();
    return { role: 'nats-server', id: name, pid: server.pid };
  }

  private natsServer(name: string): NatsServerProcess {
    if (this.natsServers.length < 2) throw new ShardflowError('CONFIG_INVALID', 'killing a NATS node needs a 3-node NATS cluster (natsNodes: 3); with one server nothing could survive it');
    const server = this.natsServers.find((s) => s.options.name === name);
    if (!server) throw new ShardflowError('CONFIG_INVALID', `no NATS node ${name}; nodes: ${this.natsNodeNames().join(', ')}`);
    return server;
  }

  /** Hosts of a multi-host cluster (h1, h2, ...). */
  hostNames(): string[] {
    return [...new Set((this.options.placement?.natsNodes ?? []).map((n) => n.host))];
  }

  /** Processes (coordinators, workers, the NATS node) on one host. */
  processesOn(host: string): ProcessInfo[] {
    return this.processes().filter((p) => p.host === host);
  }

  /**
   * kill -9 of every process of one host at the same instant, its NATS node included: a host that
   * lost power. Nothing of it is restarted until restartHost.
   */
  async killHost(host: string): Promise<ProcessInfo[]> {
    if (!this.hostNames().includes(host)) throw new ShardflowError('CONFIG_INVALID', `no host ${host}; hosts: ${this.hostNames().join(', ') || 'none (not a multi-host cluster)'}`);
    const killed = this.processesOn(host).filter((p) => p.pid !== undefined);
    this.downHosts.add(host);
    const nodes = this.natsServers.filter((s) => s.host === this.options.placement!.natsNodes.find((n) => n.host === host)!.address);
    const children = [...this.coordinators, ...this.workers].filter((c) => c.runOn?.host === host);
    await Promise.all([...nodes.map((s) => s.kill()), ...children.map((c) => c.kill())]);
    this.options.log.warn({ host, killed }, 'every process of the host killed with SIGKILL');
    return killed;
  }

  /** Starts a killed host again: its NATS node (it catches up with the cluster), then, as a
   *  supervisor would, its processes (tried again with a backoff while the node is not ready yet). */
  async restartHost(host: string): Promise<ProcessInfo[]> {
    const address = this.options.placement?.natsNodes.find((n) => n.host === host)?.address;
    await Promise.all(this.natsServers.filter((s) => s.host === address).map((s) => s.start()));
    this.downHosts.delete(host);
    for (const c of [...this.coordinators, ...this.workers]) if (c.runOn?.host === host && !c.running) this.restartLater(c);
    return this.processesOn(host);
  }

  /** Workers running now (not killed and not yet restarted). */
  runningWorkerIds(): string[] {
    return this.workers.filter((w) => w.running).map((w) => w.id);
  }

  get restartAfterMs(): number {
    return RESTART_AFTER_MS;
  }

  /** Workers of the cluster (running or being restarted). */
  workerIds(): string[] {
    return this.workers.map((w) => w.id);
  }

  /** Starts or gracefully stops workers until `count` run (the newest stop first). */
  async scale(count: number): Promise<string[]> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_LOCAL_WORKERS) {
      throw new ShardflowError('CONFIG_INVALID', `scale: --workers must be a whole number from 1 to ${MAX_LOCAL_WORKERS}, got ${count}`);
    }
    while (this.workers.length < count) {
      const used = new Set(this.workers.map((w) => w.id));
      let i = 1;
      while (used.has(localWorkerId(i))) i++;
      const w = this.newWorker(i);
      this.workers.push(w);
      await this.startChild(w);
    }
    const leaving = this.workers.splice(count);
    await Promise.all(
      leaving.map(async (w) => {
        await w.stop();
        await w.closeLog();
      }),
    );
    return this.workerIds();
  }

  /** Stops one worker gracefully for good (it checkpoints and releases its partitions, which the
   *  leader hands to the others); the cluster runs one worker fewer. */
  async drain(id: string): Promise<string[]> {
    const index = this.workers.findIndex((w) => w.id === id);
    if (index < 0) throw new ShardflowError('CONFIG_INVALID', `drain: no worker ${id} in the local cluster; see \`shardflow status\``);
    if (this.workers.length === 1) throw new ShardflowError('CONFIG_INVALID', `drain: ${id} is the last worker; scale up first`);
    const [w] = this.workers.splice(index, 1);
    await w!.stop();
    await w!.closeLog();
    this.options.log.info({ worker: id }, 'worker drained: stopped gracefully, not restarted');
    return this.workerIds();
  }

  /** kill -9 of one process; it is started again after RESTART_AFTER_MS, as a supervisor would. */
  async kill(target: 'worker' | 'coordinator' | 'leader', id?: string): Promise<ProcessInfo> {
    let victim: Child | undefined;
    if (target === 'leader') {
      const leaderId = (await readLeader(this.kv!))?.id;
      victim = this.coordinators.find((c) => c.id === leaderId);
      if (!victim) throw new ShardflowError('PROCESS_UNAVAILABLE', 'kill leader: there is no leader right now; try again in a second');
    } else {
      const pool = (target === 'worker' ? this.workers : this.coordinators).filter((c) => c.running);
      victim = id ? pool.find((c) => c.id === id) : pool[Math.floor(Math.random() * pool.length)];
      if (!victim) {
        // An id that names no running process is the caller's mistake; no process at all is a moment
        // (all of them restarting) that passes.
        throw new ShardflowError(id ? 'CONFIG_INVALID' : 'PROCESS_UNAVAILABLE', `kill ${target}: ${id ? `no running ${target} ${id}` : `no running ${target}`}; see \`shardflow status\``);
      }
    }
    const killed = { role: victim.role, id: victim.id, pid: victim.pid };
    await victim.kill();
    this.options.log.warn(killed, 'process killed with SIGKILL; restarting it shortly');
    this.restartLater(victim);
    return killed;
  }

  /** Starts a process that died again after RESTART_AFTER_MS (unless the cluster stops or scaled it
   *  away meanwhile), as a supervisor would. */
  private restartLater(victim: Child): void {
    const restart = (async () => {
      // A start can fail while NATS fails over (the process exits at start): try again, backing off.
      for (let attempt = 0; ; attempt++) {
        await new Promise((r) => setTimeout(r, RESTART_AFTER_MS * Math.min(8, 2 ** attempt)));
        const stillMember = [...this.workers, ...this.coordinators, this.consoleChild].includes(victim);
        if (this.stopping || !stillMember || victim.running) return;
        // Its host is down: restartHost starts it with the host.
        if (victim.runOn && this.downHosts.has(victim.runOn.host)) return;
        try {
          await this.startChild(victim);
          return;
        } catch (err) {
          this.crashes.push({ id: victim.id, code: null, signal: null, at: Date.now() });
          this.options.log.error({ id: victim.id, attempt, err: (err as Error).message }, 'restart failed; trying again');
        }
      }
    })();
    this.restarts.add(restart);
    void restart.finally(() => this.restarts.delete(restart));
  }

  /** A child that exits on its own is logged, counted and restarted. */
  private supervised(child: Child): Child {
    child.onCrash = (code, signal) => {
      if (this.stopping) return;
      this.crashes.push({ id: child.id, code, signal, at: Date.now() });
      this.options.log.error({ id: child.id, role: child.role, code, signal, log: this.logFile(child.id) }, 'process exited on its own; restarting it shortly');
      this.restartLater(child);
    };
    return child;
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
          else if (req.op === 'drain') reply = { ok: true, workers: await this.drain(req.id) };
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

  /** Events of the job's generator at the configured rate, event time = now, until stopped. On a
   *  first start (an empty input stream) the last HISTORY_MS of events come first, at once, so that
   *  the first windows close and show results within seconds instead of after a whole window. */
  private async produce(): Promise<void> {
    const { job, rate } = this.options;
    const producer = new JobProducer(this.nc!, job, { producerId: `up-${Date.now()}` });
    const random = seededRandom(Date.now() & 0xffffff);
    const stored = (await (await jetstreamManager(this.nc!)).streams.info(inputStream(job.name))).state.messages;
    if (stored === 0) {
      await produceHistory(producer, job, Math.round((rate * HISTORY_MS) / 1000), HISTORY_MS, random);
      this.options.log.info({ events: producer.published, ms: HISTORY_MS }, 'first start: published the recent history of the demo input');
    }
    await produceLive(producer, job, rate, random, () => {
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
    await this.consoleChild?.stop();
    await this.consoleChild?.closeLog();
    await Promise.all(this.workers.map((w) => w.stop()));
    await Promise.all(this.coordinators.map((c) => c.stop()));
    await Promise.all([...this.workers, ...this.coordinators].map((c) => c.closeLog()));
    await this.nc?.close().catch(() => {});
    await Promise.all(this.natsServers.map((s) => s.stop()));
  }
}

/**
 * Refuses a data folder whose NATS store an older (or newer) shardflow wrote: its workers would fail
 * on every message and checkpoint instead. A folder without a store is marked as this version's.
 */
export function claimDataFolder(dataDir: string): void {
  const natsDir = join(dataDir, 'nats');
  const markerFile = join(dataDir, 'FORMAT');
  if (!existsSync(natsDir)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(markerFile, `${DATA_FORMAT}\n`);
    return;
  }
  const marker = existsSync(markerFile) ? readFileSync(markerFile, 'utf8').trim() : undefined;
  const found = marker === undefined ? 1 : Number(marker);
  if (found === DATA_FORMAT) return;
  const made = found > DATA_FORMAT ? `a newer shardflow (data format ${found})` : `an older shardflow (data format ${marker === undefined ? '1, no FORMAT file' : JSON.stringify(marker)})`;
  throw new ShardflowError(
    'CONFIG_INVALID',
    `${natsDir} was made by ${made} and this version reads format ${DATA_FORMAT} only: nothing in it can be read by this version; move it away (mv ${natsDir} ${natsDir}.old) or delete it (rm -rf ${natsDir}), or set SHARDFLOW_DATA_DIR to another folder, then start again`,
  );
}

/** A new JetStream cluster answers API calls, and can place replicated streams, only once it has
 *  elected a meta leader and its peers know each other: until then, try again. */
async function whenJetStreamReady<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + JETSTREAM_READY_TIMEOUT_MS;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw new ShardflowError('NATS_SERVER_FAILED', `the 3-node NATS cluster could not ${what} within ${JETSTREAM_READY_TIMEOUT_MS / 1000} s: ${(err as Error).message}`, { cause: err });
      await new Promise((r) => setTimeout(r, 250));
    }
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
