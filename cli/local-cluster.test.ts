// The README's main command, through the same code path (`shardflow up`): a local cluster on an
// embedded nats-server comes up with a leader and every partition assigned, computes exact results,
// stops on SIGTERM with every partition checkpointed and released, and resumes after a restart with
// nothing lost or duplicated.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../cluster/nats-server.ts';
import { JobProducer } from '../cluster/producer.ts';
import { loadConfig } from '../common/config.ts';
import { CHECKPOINTS_BUCKET, checkpointKey, partitionId } from '../common/names.ts';
import { ROOT, waitFor } from '../test/cluster-harness.ts';
import { COUNTING_MODULE, countingEvents, expectExactResults, publishAll } from '../test/counting-run.ts';
import countingJob, { COUNTING } from '../test/fixtures/counting-job.ts';
import { startUp } from '../test/local-up.ts';
import { readStatus } from '../coordinator/cluster-status.ts';
import { withLocalAdmin } from '../cluster/local-credentials.ts';
import { connectNats, natsAccess } from '../nats/connect.ts';

const UP_ARGS = ['--workers', '3', '--job', COUNTING_MODULE];

const dir = mkdtempSync(join(tmpdir(), 'shardflow-up-'));
let up: ChildProcess | undefined;
let nc: NatsConnection | undefined;
afterAll(async () => {
  up?.kill('SIGKILL');
  await nc?.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

describe('shardflow up (npm start)', () => {
  it('runs a local cluster that computes exact results and resumes from its checkpoints after a restart', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const env = { PATH: process.env.PATH ?? '', SHARDFLOW_DATA_DIR: join(dir, 'data'), SHARDFLOW_NATS_URL: url, SHARDFLOW_CHECKPOINT_INTERVAL_MS: '200', SHARDFLOW_LOG_LEVEL: 'info' };
    const config = loadConfig(env);
    // The cluster's admin credential, as a `shardflow` command run from its folder finds it.
    const admin = () => natsAccess(withLocalAdmin(config));

    let run = await startUp(UP_ARGS, env);
    up = run.child;
    await waitFor(
      async () => {
        const s = await readStatus(admin(), config);
        return s.leader !== null && s.coordinators.filter((c) => c.alive).length === 2 && s.workers.filter((w) => w.alive).length === 3 && s.partitions.length === COUNTING.partitions && s.partitions.every((p) => p.owner);
      },
      30_000,
      'a leader, 2 coordinators, 3 workers and every partition assigned',
    );
    // Secure by default: no credential, no entry; a producer's credential publishes events only.
    await expect(connect({ servers: url })).rejects.toThrow(/authorization violation/i);
    expect(statSync(join(dir, 'data', 'auth', 'credentials.json')).mode & 0o777).toBe(0o600);
    expect(run.output()).toMatch(/producers +need a credential/);
    nc = await connectNats(admin(), { name: 'test' });
    const producer = new JobProducer(nc, countingJob, { producerId: 'up-1' });
    await publishAll(producer, countingEvents(21, 0, 4_000));
    await expectExactResults(nc, [], 60_000);

    // Operate it by hand: scale out, kill the leader, kill a worker, while events keep coming.
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'shardflow.mjs'), ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
    expect(cli('scale', '--workers', '4')).toMatchObject({ status: 0, stdout: 'workers: w1 w2 w3 w4\n' });
    await waitFor(async () => new Set((await readStatus(admin(), config)).partitions.map((p) => p.owner)).size === 4, 30_000, 'partitions over 4 workers');
    const before = (await readStatus(admin(), config)).leader!;
    expect(cli('kill', 'leader')).toMatchObject({ status: 0, stdout: expect.stringMatching(new RegExp(`killed coordinator ${before.id} `)) });
    await waitFor(async () => ((await readStatus(admin(), config)).leader?.term ?? 0) > before.term, 30_000, 'a new leader');
    expect(cli('kill', 'worker', '--id', 'w2')).toMatchObject({ status: 0, stdout: expect.stringMatching(/killed worker w2 /) });
    expect(cli('kill', 'worker', '--id', 'w9')).toMatchObject({ status: 2, stderr: expect.stringMatching(/no running worker w9/) });
    await publishAll(producer, countingEvents(23, 4_000, 4_000, Date.now() - 8_000)); // the cluster idled: its watermark is now
    await expectExactResults(nc, [], 60_000);
    // The job came from a module; the cluster knows it by name (its workers registered it).
    const byName = cli('results', '--job', 'counting');
    expect(byName.status, byName.stderr).toBe(0);
    expect(byName.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { job: string }).job)).toEqual(expect.arrayContaining(['counting']));
    expect(cli('status').stdout).toMatch(/counting +running .*module .*counting-job\.ts/);
    // Paused, its partitions are checkpointed and released; resumed, they are owned again.
    expect(cli('pause', '--job', 'counting')).toMatchObject({ status: 0, stdout: expect.stringMatching(/paused/) });
    await waitFor(async () => (await readStatus(admin(), config)).partitions.every((p) => p.owner === null), 30_000, 'every partition released while paused');
    expect(cli('status').stdout).toMatch(/counting +PAUSED by cli/);
    expect(cli('resume', '--job', 'counting')).toMatchObject({ status: 0 });
    await waitFor(async () => (await readStatus(admin(), config)).partitions.every((p) => p.owner !== null), 30_000, 'every partition owned again');
    expect(cli('pause', '--job', 'no-such-job')).toMatchObject({ status: 2, stderr: expect.stringMatching(/no job no-such-job is registered/) });
    await nc.close();
    const lastTerm = (await readStatus(admin(), config)).leader!.term;

    expect(cli('down')).toMatchObject({ status: 0, stdout: expect.stringMatching(/stopping/) });
    expect(await run.exit).toBe(0);
    expect(run.output()).toMatch(/stopped\. State kept in/);
    expect(cli('down')).toMatchObject({ status: 1, stderr: expect.stringMatching(/no local cluster answers|no `shardflow up` answers/) });

    run = await startUp(UP_ARGS, env);
    up = run.child;
    // The terms go on from the first run: workers ignore assignments of an older term.
    await waitFor(async () => ((await readStatus(admin(), config)).leader?.term ?? 0) > lastTerm, 30_000, 'a leader with a newer term');
    nc = await connectNats(admin(), { name: 'test' });
    const kv = await new Kvm(nc).open(CHECKPOINTS_BUCKET);
    const entries = await Promise.all([...Array(COUNTING.partitions).keys()].map(async (p) => (await kv.get(checkpointKey(partitionId('counting', p))))?.json() as { seq: number }));
    expect(entries.every((e) => e.seq > 0)).toBe(true); // the first run's checkpoints survived the restart
    await publishAll(new JobProducer(nc, countingJob, { producerId: 'up-2' }), countingEvents(22, 8_000, 8_000, Date.now() - 16_000));
    await expectExactResults(nc, [], 60_000);
    const logs = readdirSync(join(dir, 'data', 'logs')).map((f) => readFileSync(join(dir, 'data', 'logs', f), 'utf8')).join('\n');
    expect(logs).toMatch(/"restoredBytes":[1-9]/);
    // No password of the cluster's users in any log line or in what `up` printed.
    const passwords = Object.values((JSON.parse(readFileSync(join(dir, 'data', 'auth', 'credentials.json'), 'utf8')) as { passwords: Record<string, string> }).passwords);
    for (const secret of passwords) expect(logs + run.output()).not.toContain(secret);
    await nc.close();
    nc = undefined;
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  }, 240_000);
});
