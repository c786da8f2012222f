// Integration: real nats-server, two coordinator processes and several worker processes. Leaders and
// workers are killed (kill -9) and paused (SIGSTOP); workers join and leave. Results stay exactly the
// oracle's, assignments stay balanced and move no more partitions than balance requires.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import { afterEach, describe, expect, it } from 'vitest';
import { JobProducer } from '../cluster/producer.ts';
import { ensureJobTopology } from '../nats/topology.ts';
import { ASSIGNMENT_KEY, COORDINATION_BUCKET } from '../common/names.ts';
import { minimumMoves } from '../test/assignment-oracle.ts';
import { ShardflowProcess, sleep, startTestNats, waitFor, WorkerProcess, type TestNats } from '../test/cluster-harness.ts';
import { COUNTING_MODULE, countingEvents, expectExactResults, publishAll } from '../test/counting-run.ts';
import countingJob, { COUNTING } from '../test/fixtures/counting-job.ts';
import { movedPartitions } from './assignment-strategy.ts';
import { readLeader, type AssignmentRecord } from './protocol.ts';

let nats: TestNats | undefined;
const processes: ShardflowProcess[] = [];

afterEach(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  processes.length = 0;
  await nats?.close();
  nats = undefined;
});

async function setup() {
  nats = await startTestNats();
  await ensureJobTopology(nats.nc, await jetstreamManager(nats.nc), 'counting', { replicas: 1 });
  const kv = await new Kvm(nats.nc).create(COORDINATION_BUCKET, { history: 1 });
  const producer = new JobProducer(nats.nc, countingJob, { producerId: 'failover' });
  return { kv, producer };
}

function spawn(verb: 'worker' | 'coordinator', id: string): ShardflowProcess {
  const args = verb === 'worker' ? ['--job', COUNTING_MODULE] : [];
  const p = verb === 'worker' ? new WorkerProcess(id, args, env()) : new ShardflowProcess('coordinator', id, args, env());
  processes.push(p);
  return p;
}

function env(): Record<string, string> {
  return { SHARDFLOW_NATS_URL: nats!.url, SHARDFLOW_CHECKPOINT_INTERVAL_MS: '200' };
}


async function assignment(kv: KV): Promise<AssignmentRecord | null> {
  const e = await kv.get(ASSIGNMENT_KEY);
  return e?.operation === 'PUT' ? (e.json() as AssignmentRecord) : null;
}

/** Every assignment record published, in order. */
async function recordAssignments(kv: KV): Promise<AssignmentRecord[]> {
  const seen: AssignmentRecord[] = [];
  const watch = await kv.watch({ key: ASSIGNMENT_KEY });
  void (async () => {
    for await (const e of watch as AsyncIterable<KvWatchEntry>) if (e.operation === 'PUT') seen.push(e.json() as AssignmentRecord);
  })();
  return seen;
}

/** Until the assignment gives every partition to one of exactly these workers, balanced. */
async function waitForAssignmentTo(kv: KV, workers: string[], what: string): Promise<AssignmentRecord> {
  let current: AssignmentRecord | null = null;
  await waitFor(
    async () => {
      current = await assignment(kv);
      const owners = current?.owners.counting ?? [];
      return owners.length === COUNTING.partitions && new Set(owners).size === workers.length && owners.every((o) => o !== null && workers.includes(o));
    },
    20_000,
    what,
  );
  return current!;
}

function expectBalanced(owners: (string | null)[]): void {
  const counts = new Map<string, number>();
  for (const o of owners) if (o) counts.set(o, (counts.get(o) ?? 0) + 1);
  expect(Math.max(...counts.values()) - Math.min(...counts.values())).toBeLessThanOrEqual(1);
}

describe('coordinators', () => {
  it('survive kill -9 of the leader, and a paused leader wakes up without publishing anything', async () => {
    const { kv, producer } = await setup();
    const c1 = spawn('coordinator', 'c1');
    await c1.start();
    await waitFor(async () => (await readLeader(kv))?.id === 'c1', 10_000, 'c1 to lead');
    const c2 = spawn('coordinator', 'c2');
    await c2.start();
    const workers = ['w1', 'w2', 'w3'].map((id) => spawn('worker', id));
    await Promise.all(workers.map((w) => w.start()));
    await waitForAssignmentTo(kv, ['w1', 'w2', 'w3'], 'partitions spread over the three workers');
    const publishing = publishAll(producer, countingEvents(11, 0, 30_000), 400);

    await sleep(700);
    const killedAt = Date.now();
    await c1.kill();
    await waitFor(async () => (await readLeader(kv))?.id === 'c2', 10_000, 'c2 to lead');
    const tookOver = Number(c2.logs('coordinator is now leader').at(-1)!.time);
    console.info(`leader kill -> standby leading: ${tookOver - killedAt} ms`);
    expect((await readLeader(kv))!.term).toBe(2);

    await c1.start(); // back as the standby
    c2.signal('SIGSTOP');
    await waitFor(async () => (await readLeader(kv))?.id === 'c1', 10_000, 'c1 to lead again while c2 is paused');
    await waitFor(async () => (await assignment(kv))?.term === 3, 10_000, 'the new leader to publish under term 3');
    const published = c2.logs('assignment published').length;
    const resumedAt = Date.now();
    c2.signal('SIGCONT');
    await waitFor(() => c2.logs('coordinator is now follower').some((l) => Number(l.time) >= resumedAt), 10_000, 'c2 to step down');
    await sleep(1_000);
    expect(c2.logs('assignment published').length).toBe(published); // nothing after waking up
    expect((await assignment(kv))!.term).toBe(3);
    expect((await readLeader(kv))).toMatchObject({ id: 'c1', term: 3 });

    await publishing;
    await expectExactResults(nats!.nc, processes, 90_000);
    for (const p of processes) expect(await p.stop()).toBe(0);
  }, 180_000);

  it('move a killed worker\'s partitions to the survivors, which resume from their checkpoints', async () => {
    const { kv, producer } = await setup();
    const c1 = spawn('coordinator', 'c1');
    await c1.start();
    const [w1, w2, w3] = ['w1', 'w2', 'w3'].map((id) => spawn('worker', id)) as [ShardflowProcess, ShardflowProcess, ShardflowProcess];
    await Promise.all([w1, w2, w3].map((w) => w.start()));
    const before = await waitForAssignmentTo(kv, ['w1', 'w2', 'w3'], 'three workers');
    const publishing = publishAll(producer, countingEvents(12, 0, 30_000), 300);
    await sleep(1_000);

    const moved = before.owners.counting!.flatMap((o, p) => (o === 'w2' ? [p] : []));
    const killedAt = Date.now();
    await w2.kill();
    const after = await waitForAssignmentTo(kv, ['w1', 'w3'], 'the survivors to own everything');
    expect(movedPartitions(before.owners, after.owners).map((m) => m.partition)).toEqual(moved);
    expectBalanced(after.owners.counting!);
    // Time from the kill to the first batch processed by the new owner of each moved partition.
    const resumed = new Map<number, number>();
    await waitFor(
      () => {
        for (const w of [w1, w3]) for (const l of w.logs('first batch processed')) if (Number(l.at) > killedAt && moved.includes(Number(l.partition))) resumed.set(Number(l.partition), Number(l.at) - killedAt);
        return resumed.size === moved.length;
      },
      20_000,
      'every moved partition to process again',
    );
    const times = [...resumed.values()].sort((a, b) => a - b);
    console.info(`worker kill -> partitions processing again: ${times.join(', ')} ms`);

    await publishing;
    await expectExactResults(nats!.nc, processes, 90_000);
    for (const p of processes) if (p.running) expect(await p.stop()).toBe(0);
  }, 180_000);

  it('rebalance as workers scale 2 -> 5 -> 3, balanced, moving only what balance requires, results exact', async () => {
    const { kv, producer } = await setup();
    const records = await recordAssignments(kv);
    const c1 = spawn('coordinator', 'c1');
    await c1.start();
    const ws = ['w1', 'w2', 'w3', 'w4', 'w5'].map((id) => spawn('worker', id));
    await Promise.all(ws.slice(0, 2).map((w) => w.start()));
    await waitForAssignmentTo(kv, ['w1', 'w2'], 'two workers');
    const publishing = publishAll(producer, countingEvents(13, 0, 30_000), 300);
    await sleep(500);
    for (const w of ws.slice(2)) await w.start();
    await waitForAssignmentTo(kv, ['w1', 'w2', 'w3', 'w4', 'w5'], 'five workers');
    await sleep(1_000);
    await Promise.all([ws[3]!.stop(), ws[4]!.stop()]); // graceful: checkpoint, release, leave
    await waitForAssignmentTo(kv, ['w1', 'w2', 'w3'], 'three workers');

    for (let i = 1; i < records.length; i++) {
      const prev = records[i - 1]!.owners.counting ?? [];
      const next = records[i]!.owners.counting!;
      const live = [...new Set(next.filter((o): o is string => o !== null))];
      expectBalanced(next);
      expect(movedPartitions({ counting: prev }, { counting: next }).length).toBe(minimumMoves(prev, live, COUNTING.partitions));
    }
    await publishing;
    await expectExactResults(nats!.nc, processes, 90_000);
    for (const p of processes) if (p.running) expect(await p.stop()).toBe(0);
  }, 180_000);
});
