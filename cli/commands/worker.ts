// `shardflow worker`: one worker process running the given partitions of the given jobs until SIGTERM.
import { defaultProcessId, sinkDefaults, type Config } from '../../common/config.ts';
import { withSinkDefaults } from '../../common/sink-spec.ts';
import type { Logger } from '../../common/logger.ts';
import { startMetricsServer } from '../../common/metrics-server.ts';
import { Worker } from '../../cluster/worker.ts';
import { loadJob } from '../../jobs/catalog.ts';
import { parsePartitions } from '../partition-spec.ts';
import { natsAccess, redactUrl } from '../../nats/connect.ts';
import { withSourceUrls } from '../../sources/index.ts';

export const WORKER_HELP = `Usage: shardflow worker --job NAME|PATH [--job ...] [--partitions SPEC] [--id ID]

Runs a worker process until SIGTERM or Ctrl-C, which checkpoints and releases every partition before
exiting. Partitions resume from their checkpoints.
  --job NAME|PATH    a job to run: a shipped job's name or the path of your job module (repeatable)
  --partitions SPEC  run these partitions, e.g. "all", "0-7" or "0,2,4", without coordinators;
                     without it the worker joins the cluster and runs what the leader assigns
  --id ID            worker id (default SHARDFLOW_WORKER_ID, else worker-<host>-<pid>)
Connects to SHARDFLOW_NATS_URL; serves metrics on SHARDFLOW_METRICS_PORT.`;

export async function workerCommand(options: { jobs: string[]; partitions?: string; id?: string }, config: Config, log: Logger): Promise<number> {
  const loaded = await Promise.all(options.jobs.map((name) => loadJob(name)));
  // A deployment may send every job's results elsewhere (SHARDFLOW_SINK) without editing the jobs.
  const jobs = withSourceUrls(
    loaded.map((job) => ({ ...job, sink: withSinkDefaults(config.SINK ?? job.sink, sinkDefaults(config)) })),
    config.SOURCE_URLS ?? {},
  ).map((job) => (config.SOURCES === 'off' ? { ...job, sources: [] } : job));
  const id = options.id ?? config.WORKER_ID ?? defaultProcessId('worker');
  const workerLog = log.child({ worker: id });
  const mode = options.partitions === undefined ? 'coordinated' : 'static';
  const assignments = mode === 'static' ? jobs.map((job) => [job.name, parsePartitions(options.partitions, job.partitions)] as const) : [];
  const metricsServer = await startMetricsServer({ port: config.METRICS_PORT, host: config.METRICS_HOST, token: config.METRICS_TOKEN });
  const worker = await Worker.start({
    id,
    mode,
    heartbeatMs: config.HEARTBEAT_MS,
    metricsPort: metricsServer.port,
    natsUrl: config.NATS_URL,
    nats: natsAccess(config),
    replicas: config.REPLICAS,
    jobs,
    checkpointIntervalMs: config.CHECKPOINT_INTERVAL_MS,
    checkpointEveryEvents: config.CHECKPOINT_EVERY_EVENTS,
    memoryHighWater: config.WORKER_MEMORY_HIGH_WATER,
    log: workerLog,
  });
  for (const [job, partitions] of assignments) worker.assign(job, partitions);
  workerLog.info({ mode, metricsPort: metricsServer.port, partitions: worker.owned.length, nats: redactUrl(config.NATS_URL) }, 'worker ready');
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  workerLog.info({ signal }, 'stopping: checkpointing and releasing partitions');
  const reports = await worker.shutdown();
  await metricsServer.close();
  workerLog.info({ checkpoints: reports.length }, 'worker stopped');
  return 0;
}
