// `shardflow produce`: publishes a job's generated events (or an NDJSON file) to its partitions.
import { jetstreamManager } from '@nats-io/jetstream';
import type { Config } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { JobProducer, produceLive } from '../../cluster/producer.ts';
import { ShardflowError } from '../../common/errors.ts';
import { startMetricsServer } from '../../common/metrics-server.ts';
import { seededRandom } from '../../common/random.ts';
import type { Job } from '../../jobs/define-job.ts';
import type { PayloadDecoder } from '../../jobs/event-decoder.ts';
import { ensureJobTopology } from '../../nats/topology.ts';
import { loadJob } from '../../jobs/catalog.ts';
import { loadRawEvents } from '../raw-events.ts';
import { progressBar } from '../progress.ts';
import { connectNats, natsAccess, permissionDenied } from '../../nats/connect.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import { inputStream } from '../../common/names.ts';
import { avroEncodingFor } from '../../schema/avro-encoder.ts';

export const PRODUCE_HELP = `Usage: shardflow produce --job NAME [--events N] [--seed N] [--rate R] [--input FILE] [--start MS] [--live] [--format avro]

Publishes events to a job's partitions (acknowledged by JetStream, each with a message id so a retry
is stored once), with a progress bar.
  --events N     how many generated events (default 10000)
  --seed N       generator seed: same seed, same events (default 1)
  --rate R       events per second (default 0: as fast as acknowledgements allow)
  --input FILE   publish the lines of an NDJSON file instead of generated events
  --start MS     event time of the first generated event, epoch ms (default: so the last is now)
  --id ID        producer id, prefix of message ids (default: job-seed)
  --live         generate events with event time = now at --rate (default 200/s) until SIGTERM or
                 Ctrl-C, serving /metrics on SHARDFLOW_METRICS_PORT: a running system's input
  --format avro  publish Avro in the Confluent wire format, encoded with the latest schema of the
                 job's subject in the cluster's registry (an Avro job: user-activity); events that
                 do not fit the schema go out as JSON, for the workers to dead-letter or accept`;

export interface ProduceOptions {
  job: string;
  events: number;
  seed: number;
  rate: number;
  input?: string;
  start?: number;
  id?: string;
  live?: boolean;
  format?: 'json' | 'avro';
}

export async function produceCommand(options: ProduceOptions, config: Config, log: Logger): Promise<number> {
  const job = await loadJob(options.job);
  if (options.live) return produceLiveCommand(job, options, config, log);
  const raws = loadRawEvents(job, options);
  const nc = await connectNats(natsAccess(config), { name: `producer-${process.pid}` });
  try {
    await jobStreams(nc, job.name, config);
    const producer = new JobProducer(nc, job, { producerId: options.id ?? `${job.name}-${options.seed}`, ...(await encodingOf(nc, job, options)) });
    const bar = progressBar(`produce ${job.name}`, raws.length);
    const began = performance.now();
    for (let i = 0; i < raws.length; i++) {
      await producer.publish(raws[i]!);
      if (options.rate > 0) {
        const due = began + ((i + 1) / options.rate) * 1000;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      }
      if (i % 1_000 === 999) bar.update(i + 1);
    }
    await producer.flush();
    bar.done(raws.length);
    const seconds = (performance.now() - began) / 1000;
    process.stdout.write(`published ${producer.published} events to the ${job.partitions} partitions of ${job.name} in ${seconds.toFixed(1)} s (${producer.duplicates} duplicates ignored)\n`);
    log.info({ job: job.name, published: producer.published, duplicates: producer.duplicates }, 'produce finished');
  } finally {
    await nc.drain();
  }
  return 0;
}

async function produceLiveCommand(job: Job<unknown>, options: ProduceOptions, config: Config, log: Logger): Promise<number> {
  if (options.input) throw new ShardflowError('CONFIG_INVALID', '--live generates events; it cannot be combined with --input');
  const rate = options.rate > 0 ? options.rate : 200;
  const metricsServer = await startMetricsServer({ port: config.METRICS_PORT, host: config.METRICS_HOST, token: config.METRICS_TOKEN });
  const nc = await connectNats(natsAccess(config), { name: `producer-${process.pid}` });
  let stopping = false;
  const stop = () => (stopping = true);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    await jobStreams(nc, job.name, config);
    const producer = new JobProducer(nc, job, { producerId: options.id ?? `${job.name}-live-${Date.now()}`, ...(await encodingOf(nc, job, options)) });
    log.info({ job: job.name, rate, metricsPort: metricsServer.port }, 'producing live events until SIGTERM');
    const progress = setInterval(() => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${job.name}: ${producer.published} events published\n`), 10_000);
    const count = await produceLive(producer, job, rate, seededRandom(options.seed), () => stopping);
    clearInterval(progress);
    process.stdout.write(`published ${count} live events to ${job.name}\n`);
  } finally {
    await nc.drain();
    await metricsServer.close();
  }
  return 0;
}

/** How events are encoded: as they are, or as Avro with the latest schema of the job's subject. */
async function encodingOf(nc: NatsConnection, job: Job<unknown>, options: ProduceOptions): Promise<{ encode?: (raw: string | Uint8Array) => Uint8Array; payload?: PayloadDecoder }> {
  if (options.format !== 'avro') return {};
  const avro = await avroEncodingFor(nc, job);
  process.stdout.write(`encoding Avro with ${job.avro!.subject} version ${avro.version} (schema id ${avro.schemaId})\n`);
  return { encode: avro.encode, payload: avro.payload };
}

/** The job's streams and buckets, created when missing. A producer's credential may not create them
 *  (least privilege): then they must exist already, made by a worker or an admin. */
async function jobStreams(nc: NatsConnection, job: string, config: Config): Promise<void> {
  try {
    await ensureJobTopology(nc, await jetstreamManager(nc), job, { replicas: config.REPLICAS });
  } catch (err) {
    if (!permissionDenied(err)) throw err;
    const exists = await (await jetstreamManager(nc)).streams.info(inputStream(job)).then(() => true, () => false);
    if (!exists) throw new ShardflowError('STREAM_MISSING', `job ${job} has no streams on this NATS yet, and this credential may not create them: start the cluster's workers first (they create them), or run once with an admin credential`, { cause: err });
  }
}
