// Scenario (opt-in, `npm run bench -- soak [--minutes 20]`): a cluster under steady load for tens of
// minutes, with a worker killed (kill -9, restarted a second later) every minute, to show that
// storage and memory have ceilings that hold. A nats-server, 2 coordinators and 5 workers (processes)
// run the soak job (bench/soak-job.ts: retention of 5 minutes, results kept 3 minutes); this process
// publishes 1,000 events/s (90% through the producer, 10% as a plain client on the ingest subject,
// about 2% broken) and every 30 s records the store's bytes (every stream and bucket of the cluster),
// the results bucket's and the checkpoints bucket's, and each worker's resident memory.
import { JobProducer } from '../cluster/producer.ts';
import { CHECKPOINTS_BUCKET, ingestSubject, resultsBucket } from '../common/names.ts';
import { seededRandom } from '../common/random.ts';
import { storageOver, statusOver } from '../coordinator/cluster-status.ts';
import { ShardflowProcess, WorkerProcess } from '../test/cluster-harness.ts';
import { prepareJobOf, withNats } from './cluster-support.ts';
import type { Figure, Series } from './results-file.ts';
import type { Scenario, ScenarioOutcome } from './scenario.ts';
import soakJob, { SOAK_RETENTION_MS, soakRecord } from './soak-job.ts';

const RATE = 1_000;
const SAMPLE_MS = 30_000;
const KILL_EVERY_MS = 60_000;
const WORKERS = 5;
const JOB_MODULE = 'bench/soak-job.ts';

function minutesArg(): number {
  const i = process.argv.indexOf('--minutes');
  const minutes = i >= 0 ? Number(process.argv[i + 1]) : 20;
  if (!(minutes >= 1)) throw new Error(`--minutes must be a number of minutes >= 1, got ${process.argv[i + 1]}`);
  return minutes;
}

export async function soak(log: (line: string) => void): Promise<ScenarioOutcome> {
  const minutes = minutesArg();
  const durationMs = minutes * 60_000;
  return withNats(async (server, nc) => {
    await prepareJobOf(nc, soakJob as never);
    const env = { SHARDFLOW_NATS_URL: server.url, SHARDFLOW_LOG_LEVEL: 'warn' };
    const coordinators = [1, 2].map((i) => new ShardflowProcess('coordinator', `sc${i}`, [], { ...env, SHARDFLOW_LOG_LEVEL: 'info' }));
    const workers = Array.from({ length: WORKERS }, (_, i) => new WorkerProcess(`sw${i + 1}`, ['--job', JOB_MODULE], { ...env, SHARDFLOW_LOG_LEVEL: 'info' }));
    await Promise.all([...coordinators, ...workers].map((p) => p.start()));
    const producer = new JobProducer(nc, soakJob as never, { producerId: `soak-${Date.now()}`, retryForMs: 100_000 });
    const random = seededRandom(7);
    const began = Date.now();
    let stop = false;
    let published = 0;
    const producing = (async () => {
      for (let i = 0; !stop; i++) {
        const wait = began + (i * 1_000) / RATE - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const raw = soakRecord(random, Date.now());
        if (i % 10 === 9) nc.publish(ingestSubject(soakJob.name), raw);
        else await producer.publish(raw);
        published++;
      }
      await producer.flush();
    })();
    let kills = 0;
    const killing = (async () => {
      for (let k = 1; ; k++) {
        const due = began + k * KILL_EVERY_MS;
        while (!stop && Date.now() < due) await new Promise((r) => setTimeout(r, 200));
        if (stop) return;
        const victim = workers[Math.floor(random() * workers.length)]!;
        await victim.kill();
        kills++;
        await new Promise((r) => setTimeout(r, 1_000));
        await victim.start();
      }
    })();

    const series: Series[] = [
      { name: 'store', unit: 'MiB', points: [] },
      { name: 'results bucket', unit: 'MiB', points: [] },
      { name: 'checkpoints bucket', unit: 'KiB', points: [] },
      { name: 'worker RSS, largest', unit: 'MiB', points: [] },
      { name: 'unprocessed messages', unit: 'messages', points: [] },
    ];
    const rssMax: number[] = [];
    const config = { REPLICAS: 1, LEADER_LEASE_MS: 1_500, WORKER_TIMEOUT_MS: 1_000 };
    for (let s = 1; s * SAMPLE_MS <= durationMs; s++) {
      const due = began + s * SAMPLE_MS;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      const t = Math.round((Date.now() - began) / 1000);
      const storage = await storageOver(nc);
      const bytesOf = (stream: string) => storage.streams.find((x) => x.stream === stream)?.bytes ?? 0;
      const store = storage.streams.reduce((n, x) => n + x.bytes, 0);
      const rss = await Promise.all(
        workers.map(async (w) => {
          // The port of the worker's latest start (a killed worker restarts on a new one).
          const port = w.logs('worker ready').at(-1)?.metricsPort;
          const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => '');
          return Number(/^shardflow_process_resident_memory_bytes ([0-9.e+]+)$/m.exec(text)?.[1] ?? 0) / 2 ** 20;
        }),
      );
      const lag = (await statusOver(nc, config).catch(() => undefined))?.partitions.reduce((n, p) => n + (p.lag ?? 0), 0) ?? 0;
      rssMax.push(Math.max(...rss));
      series[0]!.points.push([t, store / 2 ** 20]);
      series[1]!.points.push([t, bytesOf(`KV_${resultsBucket(soakJob.name)}`) / 2 ** 20]);
      series[2]!.points.push([t, bytesOf(`KV_${CHECKPOINTS_BUCKET}`) / 1024]);
      series[3]!.points.push([t, Math.max(...rss)]);
      series[4]!.points.push([t, lag]);
      log(`${(t / 60).toFixed(1).padStart(5)} min  store ${(store / 2 ** 20).toFixed(1)} MiB, results ${(bytesOf(`KV_${resultsBucket(soakJob.name)}`) / 2 ** 20).toFixed(1)} MiB, worker RSS max ${Math.max(...rss).toFixed(0)} MiB, lag ${lag}, ${kills} kills, ${published} events`);
    }
    stop = true;
    await Promise.all([producing, killing]);
    const crashed = [...coordinators, ...workers].filter((p) => !p.running).map((p) => p.id);
    await Promise.all([...coordinators, ...workers].map((p) => p.stop().catch(() => p.kill())));
    // The store once retention is reached (the retention span plus a minute), against the end.
    const store = series[0]!.points;
    const reached = store.find(([t]) => t * 1000 >= SOAK_RETENTION_MS + 60_000) ?? store[0]!;
    const end = store.at(-1)!;
    if (crashed.length > 0) log(`processes not running at the end: ${crashed.join(', ')}`);
    const figures: Figure[] = [
      { name: 'soak.minutes', value: minutes, unit: 'minutes' },
      { name: 'soak.events', value: published, unit: 'events' },
      { name: 'soak.worker_kills', value: kills, unit: 'kills' },
      { name: 'soak.store_mb_at_retention', value: Number(reached[1].toFixed(1)), unit: 'MiB' },
      { name: 'soak.store_mb_end', value: Number(end[1].toFixed(1)), unit: 'MiB' },
      { name: 'soak.store_mb_max', value: Number(Math.max(...store.map(([, v]) => v)).toFixed(1)), unit: 'MiB' },
      { name: 'soak.store_bytes_end_over_start', value: Number((end[1] / reached[1]).toFixed(3)), unit: 'ratio' },
      { name: 'soak.results_bucket_mb_end', value: Number(series[1]!.points.at(-1)![1].toFixed(1)), unit: 'MiB' },
      { name: 'soak.worker_rss_max_mb', value: Math.round(Math.max(...rssMax)), unit: 'MiB' },
      { name: 'soak.worker_rss_end_mb', value: Math.round(rssMax.at(-1)!), unit: 'MiB' },
    ];
    for (const s of series) s.points = s.points.map(([t, v]) => [t, Number(v.toFixed(1))]);
    return { figures, series };
  });
}

export const soakScenario: Scenario = {
  name: 'soak',
  title: 'Soak: storage and memory have ceilings',
  optIn: true,
  description:
    'Opt-in (`npm run bench -- soak`, `--minutes N`, default 20): a nats-server, 2 coordinators and 5 worker ' +
    'processes run the soak job (bench/soak-job.ts: keyed count, sum and distinct count in 1 s windows; input, ' +
    'ingest, dead-letter and late streams kept 5 minutes; results kept 3 minutes) for the whole time while this ' +
    'process publishes 1,000 events/s (9 in 10 through the producer, 1 in 10 as a plain client on the ingest ' +
    'subject; about 2% broken, so dead letters flow too) and a worker is killed with kill -9 every minute and ' +
    'restarted a second later. Every 30 s it records the bytes of every stream and bucket of the cluster, the ' +
    'results and checkpoints buckets, the largest worker RSS and the unprocessed messages. The store is compared ' +
    'once retention is reached (after 6 minutes) with the end of the run: near 1 means nothing grows without bound.',
  figures: [
    { name: 'soak.minutes', unit: 'minutes', label: 'length of the run' },
    { name: 'soak.events', unit: 'events', label: 'events published' },
    { name: 'soak.worker_kills', unit: 'kills', label: 'workers killed with kill -9' },
    { name: 'soak.store_mb_at_retention', unit: 'MiB', label: 'store once retention is reached (6 min)' },
    { name: 'soak.store_mb_end', unit: 'MiB', label: 'store at the end' },
    { name: 'soak.store_mb_max', unit: 'MiB', label: 'largest store seen' },
    { name: 'soak.store_bytes_end_over_start', unit: 'ratio', label: 'store at the end / once retention is reached', target: { op: '<=', value: 1.1 } },
    { name: 'soak.results_bucket_mb_end', unit: 'MiB', label: 'results bucket at the end (results kept 3 minutes)' },
    { name: 'soak.worker_rss_max_mb', unit: 'MiB', label: 'largest worker RSS seen' },
    { name: 'soak.worker_rss_end_mb', unit: 'MiB', label: 'largest worker RSS at the end' },
  ],
  run: soak,
};
