// Starts and stops real nats-server processes (single node or a cluster with JetStream) on loopback
// ports of their own, each with its own store folder. Used by the embedded local cluster and by the
// integration tests; never touches a server that happens to be running elsewhere.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { programSearchPath } from '../common/config.ts';
import { ShardflowError } from '../common/errors.ts';
import { NATS_START_TIMEOUT_MS, NATS_STOP_GRACE_MS } from '../common/timing.ts';

export interface NatsServerOptions {
  /** Folder for the JetStream store, the config file and the log. Created when missing. */
  dir: string;
  /** Client port; 0 picks a free one. */
  port?: number;
  /** Name of the server (required in a cluster). */
  name?: string;
  /** Largest message the server accepts, bytes. Default 1 MiB (the nats-server default). */
  maxPayload?: number;
  /** Ceiling of the JetStream file store, bytes (max_file_store). Unset: nats-server's default, up to
   *  75% of the free disk. JetStream reserves each stream's max_bytes against it when the stream is
   *  created, so it must exceed the sum of the max_bytes of all streams, not only what they hold. */
  maxStoreBytes?: number;
  /** Ceiling of the JetStream memory store, bytes (max_memory_store). Unset: nats-server's default, up
   *  to 75% of the machine's memory. */
  maxMemoryStoreBytes?: number;
  cluster?: { name: string; port: number; routes: number[]; routeHosts?: string[] };
  /** Address to listen on (clients and cluster routes); default 127.0.0.1. A virtual host's address
   *  in a multi-host cluster (cluster/virtual-hosts.ts); `routeHosts` then gives each route's host. */
  host?: string;
  /** A command prefix the server runs under, e.g. `ip netns exec <host>` (it must exec the server,
   *  so that the pid spawned is the server's and kill -9 hits it). */
  command?: readonly string[];
  /** An `authorization { ... }` block (nats/roles.ts), or any other configuration text that decides
   *  who gets in (`operator` and `resolver` settings, for instance). Unset: anyone who can connect. */
  access?: string;
  /** TLS for clients: the server's certificate and key, and with `caFile` + `verify` a client
   *  certificate signed by that CA is required (mutual TLS). */
  tls?: { certFile: string; keyFile: string; caFile?: string; verify?: boolean };
  /** Path of the nats-server binary; default: found on PATH or in /usr/sbin. */
  binary?: string;
}

export function findNatsServerBinary(explicit?: string): string {
  const candidates = explicit ? [explicit] : [...programSearchPath().map((d) => join(d, 'nats-server')), '/usr/sbin/nats-server', '/usr/local/bin/nats-server'];
  for (const c of candidates) if (c && existsSync(c)) return c;
  throw new ShardflowError(
    'NATS_SERVER_MISSING',
    'nats-server is not installed: on Debian/Ubuntu run `sudo apt-get install -y nats-server` (or `bash scripts/ensure-nats-server.sh` as root); elsewhere install nats-server 2.9+ and put it on PATH',
  );
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export class NatsServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly options: Required<Pick<NatsServerOptions, 'dir' | 'port'>> & NatsServerOptions,
    private readonly binary: string,
  ) {}

  get port(): number {
    return this.options.port;
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  get url(): string {
    return `nats://${this.host}:${this.options.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts (or restarts) the server and resolves once it accepts connections. */
  async start(): Promise<void> {
    const { dir, port, name, maxPayload, maxStoreBytes, maxMemoryStoreBytes, cluster, access, tls } = this.options;
    mkdirSync(dir, { recursive: true });
    const jetstreamSettings = [
      `store_dir: "${join(dir, 'jetstream')}"`,
      maxStoreBytes !== undefined ? `max_file_store: ${storeLimit(maxStoreBytes, 'maxStoreBytes')}` : '',
      maxMemoryStoreBytes !== undefined ? `max_memory_store: ${storeLimit(maxMemoryStoreBytes, 'maxMemoryStoreBytes')}` : '',
    ];
    const lines = [
      `listen: "${this.host}:${port}"`,
      name ? `server_name: "${name}"` : '',
      `max_payload: ${maxPayload ?? 1024 * 1024}`,
      `jetstream { ${jetstreamSettings.filter(Boolean).join(', ')} }`,
      tls
        ? `tls { cert_file: ${JSON.stringify(tls.certFile)}, key_file: ${JSON.stringify(tls.keyFile)}${tls.caFile ? `, ca_file: ${JSON.stringify(tls.caFile)}` : ''}${tls.verify ? ', verify: true' : ''}, timeout: 5 }`
        : '',
      access ?? '',
      cluster
        ? `cluster { name: "${cluster.name}", listen: "${this.host}:${cluster.port}", routes: [${cluster.routes.map((p, i) => `"nats://${cluster.routeHosts?.[i] ?? '127.0.0.1'}:${p}"`).join(', ')}] }`
        : '',
    ];
    const configFile = join(dir, 'nats-server.conf');
    // Passwords may be in it: readable by this user only.
    writeFileSync(configFile, lines.filter(Boolean).join('\n') + '\n', { mode: 0o600 });
    chmodSync(configFile, 0o600);
    const [program, ...prefix] = [...(this.options.command ?? []), this.binary];
    const child = spawn(program!, [...prefix, '-c', configFile, '-l', join(dir, 'nats-server.log')], { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + NATS_START_TIMEOUT_MS;
    while (!(await acceptsConnections(port, this.host))) {
      if (child.exitCode !== null) throw new ShardflowError('NATS_SERVER_FAILED', `nats-server exited at start with code ${child.exitCode}; see ${join(dir, 'nats-server.log')} (port ${port} taken?)`);
      if (Date.now() > deadline) {
        // Nobody will stop a server whose start failed: stop it here rather than leave it running.
        child.kill('SIGKILL');
        throw new ShardflowError('NATS_SERVER_FAILED', `nats-server did not accept connections on port ${port} within ${NATS_START_TIMEOUT_MS / 1000} s; see ${join(dir, 'nats-server.log')}`);
      }
      await sleep(50);
    }
  }

  /** Sends a signal: SIGKILL for a crash, SIGSTOP/SIGCONT to pause and resume. */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and waits for it to exit. */
  async stop(graceMs = NATS_STOP_GRACE_MS): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** kill -9, and wait for the process to be gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await this.exited;
  }
}

export async function startNatsServer(options: NatsServerOptions): Promise<NatsServerProcess> {
  const server = new NatsServerProcess({ ...options, port: options.port || (await freePort()) }, findNatsServerBinary(options.binary));
  await server.start();
  return server;
}

/** Settings every node of a cluster shares: store limits, who gets in, TLS. */
export type NodeSettings = Pick<NatsServerOptions, 'maxStoreBytes' | 'maxMemoryStoreBytes' | 'access' | 'tls'>;

/** The nodes of a JetStream cluster of `size` on free loopback ports, in subfolders `n1`.. of `dir`
 *  (named like them), each routing to the others; not started yet. Store limits apply to each node. */
export async function natsClusterNodes(dir: string, size = 3, maxPayload?: number, settings: NodeSettings = {}): Promise<NatsServerProcess[]> {
  const binary = findNatsServerBinary();
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freePort());
    routePorts.push(await freePort());
  }
  return clientPorts.map(
    (port, i) =>
      new NatsServerProcess(
        { dir: join(dir, `n${i + 1}`), port, name: `n${i + 1}`, maxPayload, ...settings, cluster: { name: 'shardflow', port: routePorts[i]!, routes: routePorts.filter((_, j) => j !== i) } },
        binary,
      ),
  );
}

/** A started JetStream cluster of `size` nodes (see natsClusterNodes). */
export async function startNatsCluster(dir: string, size = 3, maxPayload?: number, settings: NodeSettings = {}): Promise<NatsServerProcess[]> {
  const servers = await natsClusterNodes(dir, size, maxPayload, settings);
  await Promise.all(servers.map((s) => s.start()));
  return servers;
}

/** nats-server reads `1e10` or `1.5` as something else than bytes (or refuses to start with a vaguer
 *  message): only whole numbers go into its config. */
function storeLimit(bytes: number, option: string): string {
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new ShardflowError('CONFIG_INVALID', `nats-server ${option} must be a whole number of bytes >= 1, got ${bytes}`);
  return String(bytes);
}

function acceptsConnections(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Client and route ports of a node on a host of its own: each host has its own network namespace,
 *  so every node can use the standard ports. */
export const HOST_CLIENT_PORT = 4222;
export const HOST_ROUTE_PORT = 6222;

/** The nodes of a JetStream cluster with one node per host (subfolders `n1`.. of `dir`, named like
 *  them), each listening on its host's address and started through its host's command prefix. */
export function natsHostNodes(dir: string, hosts: readonly { address: string; command: readonly string[] }[], settings: NodeSettings = {}): NatsServerProcess[] {
  const binary = findNatsServerBinary();
  return hosts.map((h, i) => {
    const others = hosts.filter((_, j) => j !== i);
    return new NatsServerProcess(
      {
        dir: join(dir, `n${i + 1}`),
        port: HOST_CLIENT_PORT,
        name: `n${i + 1}`,
        host: h.address,
        command: h.command,
        ...settings,
        cluster: { name: 'shardflow', port: HOST_ROUTE_PORT, routes: others.map(() => HOST_ROUTE_PORT), routeHosts: others.map((o) => o.address) },
      },
      binary,
    );
  });
}
