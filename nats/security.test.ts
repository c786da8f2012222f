// The cluster on a nats-server that takes only the roles' users (nats/roles.ts), over mutual TLS: every
// process runs on its own role and the job's results are exact; what a role may not do, the server
// refuses and nothing is written; forged or malformed heartbeats change nothing; a wrong credential is
// one clear line with exit code 3; no secret appears in any log line.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalTls, type LocalTlsFiles } from '../cluster/local-tls.ts';
import { startNatsServer, type NatsServerProcess } from '../cluster/nats-server.ts';
import { JobProducer } from '../cluster/producer.ts';
import {
  ASSIGNMENT_KEY,
  CHECKPOINTS_BUCKET,
  COORDINATION_BUCKET,
  inputStream,
  LEADER_KEY,
  LOCAL_CONTROL_SUBJECT,
  partitionId,
  partitionSubject,
  resultsBucket,
  workerKey,
} from '../common/names.ts';
import type { AssignmentRecord } from '../coordinator/protocol.ts';
import { refusal, ROOT, ShardflowProcess, waitFor, WorkerProcess } from '../test/cluster-harness.ts';
import { COUNTING_MODULE, countingEvents, expectExactResults, publishAll } from '../test/counting-run.ts';
import countingJob, { COUNTING } from '../test/fixtures/counting-job.ts';
import { accessEnvironment, connectNats, type NatsAccess } from './connect.ts';
import { authorizationBlock, type Role, type RoleUser } from './roles.ts';
import { ensureJobTopology } from './topology.ts';

const JOB = countingJob.name;
const dir = mkdtempSync(join(tmpdir(), 'shardflow-security-'));
const password = () => randomBytes(18).toString('base64url');
const users: RoleUser[] = [
  { user: 'admin', password: password(), role: 'admin' },
  { user: 'coordinator', password: password(), role: 'coordinator' },
  { user: 'producer', password: password(), role: 'producer' },
  { user: 'viewer', password: password(), role: 'viewer' },
  { user: 'worker-w1', password: password(), role: 'worker', workerId: 'w1' },
  { user: 'worker-w2', password: password(), role: 'worker', workerId: 'w2' },
];
let tls: LocalTlsFiles;
let server: NatsServerProcess;
const open: NatsConnection[] = [];
const processes: ShardflowProcess[] = [];

function access(role: Role, workerId?: string): NatsAccess {
  const u = users.find((x) => x.role === role && x.workerId === workerId)!;
  return { servers: server.url, user: u.user, password: u.password, tlsCa: tls.ca, tlsCert: tls.clientCert, tlsKey: tls.clientKey };
}

async function connectAs(role: Role, workerId?: string): Promise<NatsConnection> {
  const nc = await connectNats(access(role, workerId), { name: `test-${role}` });
  open.push(nc);
  return nc;
}

beforeAll(async () => {
  tls = ensureLocalTls(join(dir, 'tls'));
  server = await startNatsServer({
    dir: join(dir, 'nats'),
    access: authorizationBlock(users, [JOB]),
    tls: { certFile: tls.serverCert, keyFile: tls.serverKey, caFile: tls.ca, verify: true },
  });
  const admin = await connectAs('admin');
  await ensureJobTopology(admin, await jetstreamManager(admin), countingJob as never, { replicas: 1 });
  await new Kvm(admin).create(COORDINATION_BUCKET, { history: 1 });
}, 60_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  for (const nc of open) await nc.close().catch(() => {});
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a cluster on NATS with a user per role and mutual TLS', () => {
  it('refuses every write outside a role, and stores nothing of it', async () => {
    const admin = await connectAs('admin');
    const jsm = await jetstreamManager(admin);
    const stored = async () => (await jsm.streams.info(inputStream(JOB))).state.messages;
    const before = await stored();

    const producer = jetstream(await connectAs('producer'));
    // Allowed: events, to the ingest subject or straight to a partition.
    await producer.publish(`shardflow.ingest.${JOB}`, '{"k":"a","v":1,"t":0}');
    await producer.publish(partitionSubject(partitionId(JOB, 0), 'event'), '{"k":"a","v":1,"t":0}');
    expect(await stored()).toBe(before + 1);
    // Refused: markers, routed input, checkpoints, results, the control plane, the local cluster's verbs.
    for (const subject of [
      partitionSubject(partitionId(JOB, 0), 'marker'),
      partitionSubject(partitionId(JOB, 0), 'routed'),
      `$KV.${CHECKPOINTS_BUCKET}.${JOB}.p0`,
      `$KV.${resultsBucket(JOB)}.forged`,
      `$KV.${COORDINATION_BUCKET}.${ASSIGNMENT_KEY}`,
      `$KV.${COORDINATION_BUCKET}.${workerKey('w1')}`,
      `$JS.API.STREAM.PURGE.${inputStream(JOB)}`,
      `$JS.API.STREAM.DELETE.${inputStream(JOB)}`,
    ]) {
      expect(await refusal(() => producer.publish(subject, 'x', { timeout: 5_000 })), subject).toMatch(/permissions violation/i);
    }
    const producerNc = open.at(-1)!;
    expect(await refusal(() => producerNc.request(LOCAL_CONTROL_SUBJECT, '{"op":"scale","workers":60}', { timeout: 5_000 }))).toMatch(/permissions violation/i);
    expect(await stored()).toBe(before + 1);

    // A viewer reads, and writes nothing.
    const viewerNc = await connectAs('viewer');
    const viewer = jetstream(viewerNc);
    expect((await (await jetstreamManager(viewerNc)).streams.info(inputStream(JOB))).state.messages).toBe(before + 1);
    const viewerKv = await new Kvm(viewerNc).open(COORDINATION_BUCKET);
    await viewerKv.get(LEADER_KEY);
    expect(await refusal(() => viewerKv.put(LEADER_KEY, '{"id":"evil","term":999999,"renewedAt":0}'))).toMatch(/permissions violation/i);
    expect(await refusal(() => viewer.publish(`shardflow.ingest.${JOB}`, '{}', { timeout: 5_000 }))).toMatch(/permissions violation/i);
    expect(await refusal(() => viewerNc.request(LOCAL_CONTROL_SUBJECT, '{"op":"down"}', { timeout: 5_000 }))).toMatch(/permissions violation/i);

    // A worker writes its own heartbeat, not another's, nor the assignment or the leader record.
    const w1 = await new Kvm(await connectAs('worker', 'w1')).open(COORDINATION_BUCKET);
    await w1.put(workerKey('w1'), '{}');
    await w1.delete(workerKey('w1'));
    expect(await refusal(() => w1.put(workerKey('w2'), '{}'))).toMatch(/permissions violation/i);
    expect(await refusal(() => w1.put(ASSIGNMENT_KEY, '{"term":999999}'))).toMatch(/permissions violation/i);
    expect(await refusal(() => w1.put(LEADER_KEY, '{"id":"w1","term":999999}'))).toMatch(/permissions violation/i);
    expect(await new Kvm(admin).open(COORDINATION_BUCKET).then((kv) => kv.get(ASSIGNMENT_KEY))).toBeNull();
  }, 60_000);

  it('runs the job exactly, each process on its own role; forged and malformed heartbeats change nothing', async () => {
    const envOf = (role: Role, workerId?: string) => ({ ...accessEnvironment(access(role, workerId)), SHARDFLOW_CHECKPOINT_INTERVAL_MS: '200', SHARDFLOW_METRICS_PORT: '0' });
    const coordinator = new ShardflowProcess('coordinator', 'c1', [], envOf('coordinator'));
    const workers = ['w1', 'w2'].map((id) => new WorkerProcess(id, ['--job', COUNTING_MODULE], envOf('worker', id)));
    processes.push(coordinator, ...workers);
    await coordinator.start();
    await Promise.all(workers.map((w) => w.start()));

    const admin = await connectAs('admin');
    const kv = await new Kvm(admin).open(COORDINATION_BUCKET);
    const assignment = async () => (await kv.get(ASSIGNMENT_KEY))?.json() as AssignmentRecord | undefined;
    await waitFor(async () => new Set(Object.values((await assignment())?.owners[JOB] ?? [])).size === 2, 30_000, 'partitions over both workers');

    const producer = new JobProducer(await connectAs('producer'), countingJob, { producerId: 'secure-1' });
    await publishAll(producer, countingEvents(31, 0, 3_000));
    await expectExactResults(admin, processes, 60_000);

    // What a stolen credential (or a bug) could write under workers.*: none of it reshapes the job.
    const settled = await assignment();
    const legit = JSON.parse(new TextDecoder().decode((await kv.get(workerKey('w2')))!.value)) as Record<string, unknown>;
    await kv.put(workerKey('ghost'), 'not json at all');
    await kv.put(workerKey('ghost2'), JSON.stringify({ ...legit, id: 'someone-else', at: Date.now() }));
    await kv.put(workerKey('ghost3'), JSON.stringify({ ...legit, id: 'ghost3', at: Date.now(), jobs: [{ name: JOB, partitions: 1 }] }));
    await kv.put(workerKey('ghost4'), JSON.stringify({ ...legit, id: 'ghost4', at: Date.now(), jobs: 'all of them' }));
    await waitFor(() => coordinator.logs('worker heartbeat ignored').length >= 4, 15_000, 'the four forged heartbeats ignored');
    const problems = coordinator.logs('worker heartbeat ignored').map((l) => String(l.problem));
    expect(problems.join('\n')).toMatch(/not JSON/);
    expect(problems.join('\n')).toMatch(/names worker "someone-else"/);
    expect(problems.join('\n')).toMatch(new RegExp(`gives job ${JOB} 1 partitions, the assignment ${COUNTING.partitions}`));
    expect(await assignment()).toEqual(settled);

    // A wrong password: one line naming the settings, exit code 3, no secret in it.
    const wrong = 'definitely-not-the-password';
    const cli = spawnSync(process.execPath, [join(ROOT, 'bin', 'shardflow.mjs'), 'status'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...accessEnvironment({ ...access('viewer'), password: wrong }) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(cli.status).toBe(3);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli.stderr).toMatch(/refused the credentials \(SHARDFLOW_NATS_USER \/ SHARDFLOW_NATS_PASSWORD\)/);
    expect(cli.stderr).not.toContain(wrong);
    // Without the client certificate the server requires.
    const noCert = spawnSync(process.execPath, [join(ROOT, 'bin', 'shardflow.mjs'), 'status'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...accessEnvironment({ ...access('viewer'), tlsCert: undefined, tlsKey: undefined }) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(noCert.status).toBe(3);
    expect(noCert.stderr).toMatch(/SHARDFLOW_NATS_TLS/);

    // No password in any log line of the run.
    const logs = processes.map((p) => p.output).join('\n') + cli.stderr + noCert.stderr;
    for (const u of users) expect(logs).not.toContain(u.password);
  }, 180_000);
});
