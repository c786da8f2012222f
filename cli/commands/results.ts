// `shardflow results`: a job's results from the cluster's KV sink, as NDJSON (one line per key and
// window: key, window_start, window_end in epoch ms, the aggregates, revision).
import { connect } from '@nats-io/transport-node';
import type { Config } from '../../common/config.ts';
import { resultsBucket } from '../../common/names.ts';
import { readKvResults } from '../../cluster/sinks/kv-sink.ts';
import { openBucket } from '../../cluster/topology.ts';
import { loadJob } from '../../jobs/catalog.ts';

export const RESULTS_HELP = `Usage: shardflow results --job NAME

Prints every result of a job held in the cluster's KV results bucket, as NDJSON sorted by window.`;

export async function resultsCommand(options: { job: string }, config: Config): Promise<number> {
  const job = await loadJob(options.job);
  const nc = await connect({ servers: config.NATS_URL.split(','), name: `results-${process.pid}` });
  try {
    const rows = await readKvResults(await openBucket(nc, resultsBucket(job.name), config.REPLICAS));
    for (const row of rows) process.stdout.write(JSON.stringify(row) + '\n');
  } finally {
    await nc.close();
  }
  return 0;
}
