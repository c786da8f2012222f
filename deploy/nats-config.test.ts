// deploy/nats/nats-server.conf, the NATS configuration docker-compose.yml mounts: it is what
// deploy/nats/render.ts renders from nats/roles.ts (so it cannot drift from the roles) and holds no
// password; and on a real 3-node cluster started with compose's command lines it does what it says: no
// way in without a credential, every role in with the password of its variable, the producer held to
// publishing events, and coordinator, worker and producer running on the credentials compose gives them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ensureLocalTls } from '../cluster/local-tls.ts';
import { findNatsServerBinary, freePort } from '../cluster/nats-server.ts';
import { ASSIGNMENT_KEY, COORDINATION_BUCKET, ingestStream, ingestSubject, inputStream, workerKey } from '../common/names.ts';
import type { AssignmentRecord } from '../coordinator/protocol.ts';
import { jobNames } from '../jobs/catalog.ts';
import { stationSentiment } from '../jobs/examples/station-sentiment.ts';
import { authorizationBlock, ROLES } from '../nats/roles.ts';
import { ensureJobTopology } from '../nats/topology.ts';
import { refusal, ROOT, ShardflowProcess, waitFor, WorkerProcess } from '../test/cluster-harness.ts';
import { interpolateTree } from '../test/compose-interpolation.ts';
import { CONFIG_FILE, deploymentUsers, passwordVariable, renderNatsServerConfig } from './nats/render.ts';

const committed = readFileSync(CONFIG_FILE, 'utf8');
const JOB = stationSentiment.name;
/** As deploy/.env.example asks: a letter first (see 'refuses to start ... a number' below). */
const newPassword = () => `n${randomBytes(18).toString('hex')}`;
const nats = findNatsServerBinary();

/** `nats-server -t` (check the configuration and exit) of `text`, with `env` added to this environment. */
function checkConfig(text: string, env: Record<string, string>): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-natsconf-'));
  try {
    writeFileSync(join(dir, 'nats-server.conf'), text);
    const r = spawnSync(nats, ['-t', '-c', join(dir, 'nats-server.conf')], { env: { ...process.env, ...env }, encoding: 'utf8' });
    return { ok: r.status === 0, output: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const everyPassword = () => Object.fromEntries(deploymentUsers().map((u) => [u.passwordVariable, newPassword()]));

describe('authorizationBlock with passwords from the environment', () => {
  it('writes an unquoted $NAME in either layout, and a password of its own quoted as before', () => {
    const users = [
      { user: 'producer', passwordVariable: 'NATS_PRODUCER_PASSWORD', role: 'producer' as const },
      { user: 'viewer', password: 'n0t$ecret"', role: 'viewer' as const },
    ];
    for (const layout of ['line', 'block'] as const) {
      const text = authorizationBlock(users, [JOB], { layout });
      expect(text).toMatch(/password: \$NATS_PRODUCER_PASSWORD[,\n]/);
      expect(text).toContain('password: "n0t$ecret\\""');
    }
    // The default is the one-line layout the local cluster has always written.
    expect(authorizationBlock(users, [JOB]).split('\n')).toHaveLength(6);
  });

  it('refuses a variable name nats-server would not read whole', () => {
    for (const name of ['NATS-PRODUCER', '1PASSWORD', 'A B', '']) {
      expect(() => authorizationBlock([{ user: 'p', passwordVariable: name, role: 'producer' }], [JOB]), name).toThrow(/not a variable name/);
    }
  });
});

describe('deploy/nats/nats-server.conf', () => {
  it('is what deploy/nats/render.ts renders from nats/roles.ts for the shipped jobs (run it after changing them)', () => {
    expect(committed).toBe(renderNatsServerConfig());
    expect(committed).toContain(`for the jobs ${jobNames().join(', ').slice(0, 40)}`);
  });

  it('has a user per role, workers sharing one, and takes every password from the environment', () => {
    const users = [...committed.matchAll(/^ {6}user: "([^"]+)"$/gm)].map((m) => m[1]);
    expect(users.sort()).toEqual([...ROLES].sort());
    const passwords = [...committed.matchAll(/^\s*password: (.*)$/gm)].map((m) => m[1]);
    expect(passwords.sort()).toEqual(ROLES.map((r) => `$${passwordVariable(r)}`).sort());
    expect(passwordVariable('producer')).toBe('NATS_PRODUCER_PASSWORD');
    // No `no_auth_user`: a client without credentials is nobody.
    expect(committed).not.toMatch(/^\s*no_auth_user/m);
  });

  it('listens for clients on 4222, serves monitoring on loopback only and bounds the JetStream store', () => {
    const settings = committed.split('\n').filter((l) => !l.trimStart().startsWith('#'));
    expect(settings).toContain('listen: "0.0.0.0:4222"');
    expect(settings).toContain('http: "127.0.0.1:8222"');
    expect(settings.filter((l) => /^\s*(http|https|http_port|https_port|monitor_port)\s*:/.test(l))).toEqual(['http: "127.0.0.1:8222"']);
    // docker-compose.yml keeps each node's store on the volume mounted at /data.
    expect(settings).toContain('  store_dir: "/data"');
    expect(settings.some((l) => /^ {2}max_file_store: \d+$/.test(l))).toBe(true);
    expect(settings.some((l) => /^ {2}max_memory_store: \d+$/.test(l))).toBe(true);
  });

  it('is accepted by nats-server, with its mutual TLS block uncommented too, and refused while a password is unset', () => {
    const env = everyPassword();
    const text = renderNatsServerConfig({ storeDir: join(tmpdir(), 'unused') });
    expect(checkConfig(text, env)).toMatchObject({ ok: true });

    const dir = mkdtempSync(join(tmpdir(), 'shardflow-natstls-'));
    try {
      const tls = ensureLocalTls(dir);
      const block = /^# tls \{\n(?:#.*\n)*?# \}$/m.exec(text)![0];
      const uncommented = block
        .replace(/^# ?/gm, '')
        .replace('/etc/nats/tls/server.pem', tls.serverCert)
        .replace('/etc/nats/tls/server.key', tls.serverKey)
        .replace('/etc/nats/tls/ca.pem', tls.ca);
      expect(uncommented).toMatch(/verify: true/);
      const withTls = checkConfig(text.replace(block, uncommented), env);
      expect(withTls.ok, withTls.output).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const { NATS_VIEWER_PASSWORD: _unset, ...missing } = env;
    const refused = checkConfig(text, missing);
    expect(refused.ok).toBe(false);
    expect(refused.output).toMatch(/NATS_VIEWER_PASSWORD/);
  });

  it('refuses to start with a password that nats-server reads as a number: hence a letter first', () => {
    const text = renderNatsServerConfig({ storeDir: join(tmpdir(), 'unused') });
    for (const numeric of ['31e5a0c4', '1234']) expect(checkConfig(text, { ...everyPassword(), NATS_PRODUCER_PASSWORD: numeric }).ok, numeric).toBe(false);
    expect(checkConfig(text, { ...everyPassword(), NATS_PRODUCER_PASSWORD: 'n31e5a0c4' }).ok).toBe(true);
  });

  it('gives each worker a user of its own, allowed only its own heartbeat, when rendered with their ids', () => {
    const text = renderNatsServerConfig({ workers: ['w1', 'w2'] });
    const users = [...text.matchAll(/^ {6}user: "([^"]+)"$/gm)].map((m) => m[1]);
    expect(users).toEqual(['admin', 'coordinator', 'worker-w1', 'worker-w2', 'producer', 'viewer']);
    const w1 = text.slice(text.indexOf('user: "worker-w1"'), text.indexOf('user: "worker-w2"'));
    expect(w1).toContain('password: $NATS_WORKER_W1_PASSWORD');
    expect(w1).toContain(`"$KV.${COORDINATION_BUCKET}.${workerKey('w1')}"`);
    expect(w1).not.toContain(`"$KV.${COORDINATION_BUCKET}.${workerKey('*')}"`);
    expect(() => renderNatsServerConfig({ workers: ['w-1', 'W_1'] })).toThrow(/both take their password from NATS_WORKER_W_1_PASSWORD/);
    expect(() => renderNatsServerConfig({ workers: ['w 1'] })).toThrow(/not a valid id/);
  });
});

interface ComposeService {
  command: string[];
  environment: Record<string, string>;
}

describe('a 3-node cluster started as docker-compose.yml starts it, on deploy/nats/nats-server.conf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-deploy-nats-'));
  const passwords = everyPassword();
  const nodes = ['nats1', 'nats2', 'nats3'];
  const servers: ChildProcess[] = [];
  const open: NatsConnection[] = [];
  const processes: ShardflowProcess[] = [];
  let clientPorts: number[] = [];
  let urls: string[] = [];
  /** The compose services as compose would run them with an `.env` of `passwords`. */
  let services: Record<string, ComposeService>;

  async function connectAs(user: string, password: string | undefined = passwords[passwordVariable(user)]): Promise<NatsConnection> {
    const nc = await connect({ servers: urls, user, pass: password, reconnect: false, timeout: 5_000 });
    open.push(nc);
    return nc;
  }

  beforeAll(async () => {
    const envFile = Object.fromEntries(
      readFileSync(join(ROOT, 'deploy', '.env.example'), 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => l.split('=') as [string, string]),
    );
    const env = { ...Object.fromEntries(Object.entries(envFile).map(([k, v]) => [k, v || newPassword()])), ...passwords };
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
    services = interpolateTree(compose.services, env);

    clientPorts = [];
    const routePorts: number[] = [];
    const monitorPorts: number[] = [];
    for (let i = 0; i < nodes.length; i++) for (const ports of [clientPorts, routePorts, monitorPorts]) ports.push(await freePort());
    urls = clientPorts.map((p) => `nats://127.0.0.1:${p}`);
    for (const [i, node] of nodes.entries()) {
      const nodeDir = join(dir, node);
      mkdirSync(nodeDir, { recursive: true });
      // The committed file with loopback ports and a store of its own: nothing else differs.
      const configFile = join(nodeDir, 'nats-server.conf');
      writeFileSync(configFile, renderNatsServerConfig({ listen: `127.0.0.1:${clientPorts[i]}`, monitor: `127.0.0.1:${monitorPorts[i]}`, storeDir: join(nodeDir, 'jetstream') }));
      // Compose's command line, its hosts mapped to loopback ports.
      const args = services[node]!.command.map((arg) =>
        arg
          .replace('/etc/nats/nats-server.conf', configFile)
          .replace('nats://0.0.0.0:6222', `nats://127.0.0.1:${routePorts[i]}`)
          .replace(/nats:\/\/(nats\d):6222/g, (_, host: string) => `nats://127.0.0.1:${routePorts[nodes.indexOf(host)]}`),
      );
      expect(args.join(' ')).not.toMatch(/nats\d:|0\.0\.0\.0|\/etc\//);
      // The node's environment as compose sets it: the password variables.
      const child = spawn(nats, [...args, '-l', join(nodeDir, 'nats-server.log')], { env: { PATH: process.env.PATH ?? '', ...services[node]!.environment }, stdio: 'ignore' });
      servers.push(child);
    }
    // What compose's healthcheck asks, on the monitoring port the file opens on loopback.
    const healthy = async (port: number) => (await fetch(`http://127.0.0.1:${port}/healthz?js-enabled-only=true`).catch(() => undefined))?.ok === true;
    await waitFor(async () => (await Promise.all(monitorPorts.map(healthy))).every(Boolean), 20_000, `the nats nodes healthy (logs in ${dir})`);

    const admin = await connectAs('admin');
    // JetStream needs a meta leader before streams can be created.
    const jsm = await jetstreamManager(admin, { checkAPI: false });
    await waitFor(async () => jsm.getAccountInfo().then(() => true, () => false), 30_000, 'JetStream cluster ready');
    await ensureJobTopology(admin, jsm, stationSentiment as never, { replicas: 3 });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill()));
    for (const nc of open) await nc.close().catch(() => {});
    await Promise.all(
      servers.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a client without credentials, or with a wrong password', async () => {
    expect(await refusal(() => connect({ servers: urls, reconnect: false, timeout: 5_000 }))).toMatch(/authorization violation/i);
    expect(await refusal(() => connectAs('producer', passwords[passwordVariable('viewer')]))).toMatch(/authorization violation/i);
    expect(await refusal(() => connectAs('nobody', 'nwhatever'))).toMatch(/authorization violation/i);
  });

  it('lets in every user with the password of its variable, on every node', async () => {
    for (const u of deploymentUsers()) {
      for (const url of urls) {
        const nc = await connect({ servers: url, user: u.user, pass: passwords[u.passwordVariable], reconnect: false, timeout: 5_000 });
        await nc.flush();
        await nc.close();
      }
    }
  });

  it("lets the producer publish a job's events, and refuses it the control plane", async () => {
    const nc = await connectAs('producer');
    const ack = await jetstream(nc).publish(ingestSubject(JOB), JSON.stringify({ station_id: 'ST-01', service: 'Lavage', rating: 4, ts: Date.now() }));
    expect(ack.stream).toBe(ingestStream(JOB));
    expect(await refusal(() => nc.request(`$KV.${COORDINATION_BUCKET}.${ASSIGNMENT_KEY}`, '{"term":999999}', { timeout: 5_000 }))).toMatch(/permissions violation/i);
    // Nor may the workers' shared user write the assignment: only the coordinators' may.
    const worker = await connectAs('worker');
    expect(await refusal(() => worker.request(`$KV.${COORDINATION_BUCKET}.${ASSIGNMENT_KEY}`, '{"term":999999}', { timeout: 5_000 }))).toMatch(/permissions violation/i);
  });

  it('runs a coordinator, a worker and a producer on the credentials compose gives each service', async () => {
    /** A service's environment from compose, pointed at this cluster; its sink (MongoDB) left to the job. */
    const envOf = (service: string): Record<string, string> => {
      const { SHARDFLOW_SINK: _mongo, ...env } = services[service]!.environment;
      return { ...env, SHARDFLOW_NATS_URL: urls.join(','), SHARDFLOW_METRICS_HOST: '127.0.0.1', SHARDFLOW_METRICS_PORT: '0', SHARDFLOW_HEARTBEAT_MS: '250' };
    };
    expect([envOf('coordinator-1').SHARDFLOW_NATS_USER, envOf('worker').SHARDFLOW_NATS_USER, envOf('producer').SHARDFLOW_NATS_USER]).toEqual(['coordinator', 'worker', 'producer']);
    const coordinator = new ShardflowProcess('coordinator', 'c1', [], envOf('coordinator-1'));
    const worker = new WorkerProcess('w1', ['--job', JOB], envOf('worker'));
    processes.push(coordinator, worker);
    await coordinator.start();
    await worker.start();

    const admin = await connectAs('admin');
    const kv = await new Kvm(admin).open(COORDINATION_BUCKET);
    const owners = async () => ((await kv.get(ASSIGNMENT_KEY))?.json() as AssignmentRecord | undefined)?.owners[JOB] ?? [];
    await waitFor(async () => (await owners()).length === stationSentiment.partitions && (await owners()).every((o) => o === 'w1'), 30_000, `every partition of ${JOB} on w1`);

    const jsm = await jetstreamManager(admin);
    const before = (await jsm.streams.info(inputStream(JOB))).state.messages;
    const produce = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'shardflow.mjs'), 'produce', '--job', JOB, '--events', '300'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', ...envOf('producer') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.once('exit', (code) => resolve({ code, output }));
    });
    expect(produce.code, produce.output).toBe(0);
    expect((await jsm.streams.info(inputStream(JOB))).state.messages).toBeGreaterThan(before);
    for (const p of processes) expect(p.running, p.output.slice(-2_000)).toBe(true);
    expect(coordinator.output + worker.output).not.toMatch(/permissions violation/i);
  }, 120_000);
});
