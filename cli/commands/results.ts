// `shardflow results`: a job's results, read back from wherever its sink writes them (the cluster's
// KV bucket, PostgreSQL, JSON files), as NDJSON: one line per key and window with key, window_start,
// window_end in epoch ms, the aggregates and the revision.
import { sinkDefaults, type Config } from '../../common/config.ts';
import { isShardflowError, ShardflowError } from '../../common/errors.ts';
import { COORDINATION_BUCKET, JOB_NAME_PATTERN, resultsBucket } from '../../common/names.ts';
import { readJob } from '../../coordinator/job-registry.ts';
import type { Job } from '../../jobs/define-job.ts';
import { readFileResults, readKvResults, readPostgresResults, type ResultRow } from '../../cluster/sinks/index.ts';
import { openBucket } from '../../nats/topology.ts';
import { loadJob } from '../../jobs/catalog.ts';
import { withSinkDefaults } from '../../common/sink-spec.ts';
import { connectNats, natsAccess } from '../../nats/connect.ts';

export const RESULTS_HELP = `Usage: shardflow results --job NAME

NAME is a shipped job, a job module's path, or the name of any job the cluster runs (its workers
registered where its module is).
Prints every result of a job, read from its sink (the cluster's KV bucket, PostgreSQL or the JSON
files folder; SHARDFLOW_SINK, SHARDFLOW_POSTGRES_URL and SHARDFLOW_DATA_DIR apply as for workers),
as NDJSON sorted by window.`;

/** A shipped job or module path as `loadJob` takes it; else a job the cluster runs, by the module its
 *  workers registered (coordinator/job-registry.ts). */
async function findJob(name: string, config: Config): Promise<Job<unknown>> {
  try {
    return await loadJob(name);
  } catch (err) {
    if (!isShardflowError(err, 'JOB_UNKNOWN') || !JOB_NAME_PATTERN.test(name)) throw err;
    const nc = await connectNats(natsAccess(config), { name: `results-${process.pid}` });
    const record = await readJob(await openBucket(nc, COORDINATION_BUCKET, config.REPLICAS), name).finally(() => nc.close());
    if (!record?.module) throw err;
    return loadJob(record.module);
  }
}

export async function resultsCommand(options: { job: string }, config: Config): Promise<number> {
  const job = await findJob(options.job, config);
  const spec = withSinkDefaults(config.SINK ?? job.sink, sinkDefaults(config));
  let rows: ResultRow[];
  if (spec.type === 'postgres') rows = await readPostgresResults(spec.url!, spec.table, job.name);
  else if (spec.type === 'files') rows = await readFileResults(spec.dir!, job.name);
  else if (spec.type === 'kv') {
    const nc = await connectNats(natsAccess(config), { name: `results-${process.pid}` });
    try {
      rows = await readKvResults(await openBucket(nc, resultsBucket(job.name), config.REPLICAS));
    } finally {
      await nc.close();
    }
  } else throw new ShardflowError('CONFIG_INVALID', `job ${job.name} writes to MongoDB (${spec.database}.${spec.collection}); read its results there, e.g. with mongosh`);
  for (const row of rows) process.stdout.write(JSON.stringify(row) + '\n');
  return 0;
}
