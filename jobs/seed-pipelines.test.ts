// Integration: each shipped seed job end to end, as deployed: its seeded events (dirty ones included)
// published to a real nats-server, a coordinator and two worker processes running the job, the job's
// own kind of sink (PostgreSQL, JSON files or KV). The sink must hold exactly what the job's seed
// oracle (test/seed-oracles, plain loops over the raw lines) computes from the input log, and the
// dead-letter stream exactly the dirty events with the oracle's reasons. Then crypto-prices into
// PostgreSQL through repeated kill -9 of its workers.
//
// Event times are in the past, so nothing is late; the last windows of each job close when its
// partitions have been quiet for the job's idle timeout (30 s), which sets the pace. So every test
// runs at once (vitest.config.ts allows that many): the six jobs on one nats-server with one
// coordinator, the kill test on a nats-server of its own, as it runs crypto-prices a second time.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import { JobProducer } from '../cluster/producer.ts';
import { ensureJobTopology } from '../nats/topology.ts';
import { seededRandom } from '../common/random.ts';
import { ShardflowProcess, sleep, startTestNats, WorkerProcess, type TestNats } from '../test/cluster-harness.ts';
import { publishAll } from '../test/counting-run.ts';
import { queryPostgres, requirePostgres, testPostgres } from '../test/postgres-harness.ts';
import { expectSeedResults, filesSink, kvSink, postgresSink, seedEvents, type SinkUnderTest } from '../test/seed-run.ts';
import { getJob } from './catalog.ts';

const pg = await testPostgres('seed-pipelines.test');
const EVENTS = 3_000;

/** A nats-server with one coordinator: workers of any job get their partitions from it. */
class TestCluster {
  private constructor(
    readonly nats: TestNats,
    private readonly coordinator: ShardflowProcess,
    private readonly processes: ShardflowProcess[] = [coordinator],
    private readonly sinks: SinkUnderTest[] = [],
  ) {}

  static async start(env: Record<string, string> = {}): Promise<TestCluster> {
    const nats = await startTestNats();
    const coordinator = new ShardflowProcess('coordinator', 'c1', [], { SHARDFLOW_NATS_URL: nats.url, ...env });
    const cluster = new TestCluster(nats, coordinator);
    await coordinator.start().catch(async (err: unknown) => {
      await cluster.close();
      throw err;
    });
    return cluster;
  }

  async topology(job: string): Promise<void> {
    await ensureJobTopology(this.nats.nc, await jetstreamManager(this.nats.nc), job, { replicas: 1 });
  }

  producer(job: string): JobProducer<unknown> {
    return new JobProducer(this.nats.nc, getJob(job), { producerId: `${job}-test` });
  }

  /** A sink dropped or removed by close(). */
  sink<S extends SinkUnderTest>(sink: S): S {
    this.sinks.push(sink);
    return sink;
  }

  worker(id: string, job: string, env: Record<string, string>): WorkerProcess {
    // Generated input only: the jobs' live sources (CoinCap, OpenFood) would add events the oracle never saw.
    const w = new WorkerProcess(id, ['--job', job], { SHARDFLOW_NATS_URL: this.nats.url, SHARDFLOW_SOURCES: 'off', ...env });
    this.processes.push(w);
    return w;
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.kill()));
    await this.nats.close();
    for (const s of this.sinks) await s.cleanup();
  }
}

type SinkKind = 'kv' | 'postgres' | 'files';

const PIPELINES: { job: string; sink: SinkKind; start: number; seed: number; title: string }[] = [
  {
    job: 'station-sentiment',
    sink: 'kv',
    start: Date.UTC(2026, 5, 12, 7, 58, 40),
    seed: 100,
    title: 'into its KV bucket (its own sink; the MongoDB sink of docker-compose has its own test, run when MONGO_URL is set)',
  },
  { job: 'openfood-nutriscore', sink: 'postgres', start: Date.UTC(2026, 3, 2, 11, 57), seed: 101, title: 'into PostgreSQL' },
  { job: 'openfood-brands', sink: 'postgres', start: Date.UTC(2026, 3, 2, 11, 57), seed: 102, title: 'into PostgreSQL' },
  { job: 'user-activity', sink: 'kv', start: Date.UTC(2026, 5, 30, 23, 58), seed: 103, title: 'into its KV bucket, across midnight' },
  { job: 'crypto-prices', sink: 'postgres', start: Date.UTC(2026, 2, 9, 14, 0, 30), seed: 104, title: 'into PostgreSQL' },
  { job: 'support-tickets', sink: 'files', start: Date.UTC(2026, 7, 31, 23, 59), seed: 105, title: 'into JSON files, across midnight (one partition: the second worker stands by)' },
];

describe.concurrent('each seed pipeline, through a real nats-server, a coordinator and two worker processes', () => {
  let cluster: Promise<TestCluster> | undefined;
  // Workers of six jobs start at once on a small machine: a heartbeat can be late without a death.
  const shared = () => (cluster ??= TestCluster.start({ SHARDFLOW_WORKER_TIMEOUT_MS: '5000' }));
  afterAll(async () => {
    await (await cluster)?.close();
  });

  for (const { job, sink: kind, start, seed, title } of PIPELINES) {
    const skip = kind === 'postgres' && pg.skip;
    it.skipIf(skip)(`${job} ${title}: exactly the oracle's results, and every dirty event dead-lettered with its reason`, async () => {
      if (kind === 'postgres') requirePostgres(pg);
      const c = await shared();
      await c.topology(job);
      await publishAll(c.producer(job), seedEvents(getJob(job), seed, EVENTS, start));
      const sink = c.sink(kind === 'postgres' ? postgresSink(pg.url, job) : kind === 'files' ? filesSink(job) : kvSink(c.nats.nc, job));
      const workers = [c.worker(`${job}-w1`, job, sink.env), c.worker(`${job}-w2`, job, sink.env)];
      await Promise.all(workers.map((w) => w.start()));

      const { rows, deadLetters } = await expectSeedResults(c.nats.nc, job, sink, workers, 100_000);
      expect(rows).toBeGreaterThan(kind === 'files' ? 4 : 10);
      expect(deadLetters).toBeGreaterThan(EVENTS * 0.01);
      // Both ran partitions of the job (support-tickets has only one).
      expect(workers.filter((w) => w.logs('partition started').length > 0)).toHaveLength(Math.min(2, getJob(job).partitions));
      for (const w of workers) expect(await w.stop()).toBe(0);
    }, 150_000);
  }
});

describe.concurrent('crypto-prices into PostgreSQL under kill -9, on a nats-server of its own', () => {
  let cluster: TestCluster | undefined;
  afterAll(async () => {
    await cluster?.close();
  });

  it.skipIf(pg.skip)("keeps exactly the oracle's bars, no (key, window) row twice, when workers are killed while ticks arrive", async () => {
    requirePostgres(pg);
    cluster = await TestCluster.start();
    const job = 'crypto-prices';
    await cluster.topology(job);
    const sink = cluster.sink(postgresSink(pg.url, job));
    const raws = seedEvents(getJob(job), 31, 10_000, Date.UTC(2026, 2, 9, 15, 0, 10));
    const producer = cluster.producer(job);
    await publishAll(producer, raws.slice(0, 2_000));
    const env = { ...sink.env, SHARDFLOW_CHECKPOINT_INTERVAL_MS: '150' };
    const w1 = cluster.worker('crypto-w1', job, env);
    const w2 = cluster.worker('crypto-w2', job, env);
    await Promise.all([w1.start(), w2.start()]);

    // The rest arrives over several seconds, while workers die and come back.
    let published = false;
    const publishing = publishAll(producer, raws.slice(2_000), 20).then(() => (published = true));
    const random = seededRandom(7);
    let killsWhilePublishing = 0;
    for (let kill = 0; kill < 3; kill++) {
      await sleep(500 + Math.floor(random() * 1_000));
      const victim = random() < 0.5 ? w1 : w2;
      if (!published) killsWhilePublishing++;
      await victim.kill();
      await sleep(Math.floor(random() * 300));
      await victim.start();
    }
    await publishing;
    expect(killsWhilePublishing).toBeGreaterThan(0);

    await expectSeedResults(cluster.nats.nc, job, sink, [w1, w2], 100_000);
    const twice = await queryPostgres(pg.url, `SELECT job, key, window_start, window_end, count(*) AS n FROM ${sink.table} GROUP BY job, key, window_start, window_end HAVING count(*) > 1`);
    expect(twice).toEqual([]);
    // Restarted workers resumed from checkpoints, not from the start of the log.
    expect(`${w1.output}${w2.output}`).toMatch(/"restoredBytes":[1-9]/);
    expect(await w1.stop()).toBe(0);
    expect(await w2.stop()).toBe(0);
  }, 150_000);
});
