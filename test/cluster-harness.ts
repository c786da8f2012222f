// Shared harness of the integration tests: real nats-server processes in temporary folders on free
// loopback ports, real worker processes started through the `shardflow` command, and readers of
// what ended up in JetStream. Everything it starts, it stops.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { unpack } from 'msgpackr';
import { startNatsCluster, startNatsServer, type NatsServerProcess } from '../cluster/nats-server.ts';

export const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'shardflow.mjs');

export interface TestNats {
  servers: NatsServerProcess[];
  url: string;
  nc: NatsConnection;
  close(): Promise<void>;
}

export async function startTestNats(options: { nodes?: 1 | 3; maxPayload?: number } = {}): Promise<TestNats> {
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-nats-'));
  const servers = options.nodes === 3 ? await startNatsCluster(dir, 3, options.maxPayload) : [await startNatsServer({ dir, maxPayload: options.maxPayload })];
  const url = servers.map((s) => s.url).join(',');
  const nc = await connect({ servers: url.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  if (options.nodes === 3) {
    // JetStream needs a meta leader before streams can be created.
    const jsm = await jetstreamManager(nc);
    await waitFor(async () => (await jsm.getAccountInfo().then(() => true).catch(() => false)), 20_000, 'JetStream cluster ready');
  }
  return {
    servers,
    url,
    nc,
    async close() {
      await nc.close().catch(() => {});
      await Promise.all(servers.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A `shardflow worker` or `shardflow coordinator` process. */
export class ShardflowProcess {
  child: ChildProcess | undefined;
  output = '';
  private exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly verb: 'worker' | 'coordinator',
    readonly id: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
  ) {}

  /** Starts the process and waits for its "ready" log line. */
  async start(): Promise<void> {
    const child = spawn(process.execPath, [BIN, this.verb, '--id', this.id, ...this.args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', SHARDFLOW_LOG_LEVEL: 'info', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.output = '';
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(() => this.output.includes(`"${this.verb} ready"`) || child.exitCode !== null, 30_000, `${this.verb} ${this.id} ready`);
    if (child.exitCode !== null) throw new Error(`${this.verb} ${this.id} exited with ${child.exitCode}:\n${this.output}`);
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** kill -9 and wait until it is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (graceful: checkpoint and release) and wait for the exit code. */
  async stop(): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null;
    this.child!.kill('SIGCONT');
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 20_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Parsed JSON log lines with the given message. */
  logs(msg: string): Record<string, unknown>[] {
    return this.output
      .split('\n')
      .filter((l) => l.includes(`"msg":"${msg}"`))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

/** The last warnings and errors each process logged, for a failure message (dead-lettered events,
 *  which are expected, left out). */
export function recentWarnings(processes: readonly ShardflowProcess[], perProcess = 10): string {
  return processes
    .map((p) => `--- ${p.id}\n${p.output.split('\n').filter((l) => /"level":(40|50|60)/.test(l) && !l.includes('"msg":"event dead-lettered"')).slice(-perProcess).join('\n')}`)
    .join('\n');
}

export class WorkerProcess extends ShardflowProcess {
  constructor(id: string, args: string[], env: Record<string, string>) {
    super('worker', id, args, env);
  }
}

export interface StoredMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
  /** When the stream stored it, epoch ms. */
  timestamp: number;
}

/** Every message of a stream, in order (an ordered consumer from the first sequence). */
export async function readStream(nc: NatsConnection, stream: string): Promise<StoredMessage[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const total = info.state.messages;
  const out: StoredMessage[] = [];
  if (total === 0) return out;
  const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 1_000 });
  for await (const m of messages) {
    const headers: Record<string, string> = {};
    if (m.headers) for (const [k, v] of m.headers) headers[k] = v[0] ?? '';
    out.push({ seq: m.seq, subject: m.subject, data: m.data, headers, timestamp: Math.floor(m.info.timestampNanos / 1e6) });
    if (m.info.pending === 0) break;
  }
  messages.stop();
  return out;
}

/** One message of a job's partitioned input as stored, read independently of the workers' code: its
 *  partition, its kind (from the subject), a marker's watermark, and its events (a producer's batch,
 *  a MessagePack array of the events' bytes, unpacked). */
export interface InputMessage {
  seq: number;
  partition: number;
  kind: 'event' | 'batch' | 'routed' | 'marker';
  watermark: number;
  events: Uint8Array[];
  headers: Record<string, string>;
  /** When the stream stored it, epoch ms. */
  ingestTime: number;
}

export async function readInputLog(nc: NatsConnection, job: string): Promise<InputMessage[]> {
  return (await readStream(nc, `shardflow-${job}-in`)).map((m) => {
    const [, , , partition, kind] = m.subject.split('.');

    return {
      seq: m.seq,
      partition: Number(partition),
      kind: kind as InputMessage['kind'],
      watermark: Number(m.headers['Shardflow-Watermark']),
      events: kind === 'marker' ? [] : kind === 'event' ? [m.data] : unpackOrNone(m.data),
      headers: m.headers,
      ingestTime: m.timestamp,
    };
  });
}

/** A batch's events; none for a body that is not a batch (the workers dead-letter it whole). */
function unpackOrNone(data: Uint8Array): Uint8Array[] {
  try {
    const events = unpack(data) as unknown;
    return Array.isArray(events) ? (events as Uint8Array[]) : [];
  } catch {
    return [];
  }
}

/** A number naming an event's position (sequence and place in its message), for oracles keyed by number. */
export function eventId(seq: number, index: number): number {
  return seq * 100_000 + index;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The reason given for refusing `attempt` (NATS: a permissions violation), which must fail. */
export async function refusal(attempt: () => Promise<unknown>): Promise<string> {
  const outcome = await attempt().then(
    () => 'accepted',
    (err: unknown) => String((err as Error).message),
  );
  if (outcome === 'accepted') throw new Error('expected a refusal, but it was accepted');
  return outcome;
}
