// Scenario: the cluster against the physical limit of this machine, in one run. A stream of the bench
// job's events is read (a) raw, by one ordered consumer doing nothing with the messages, and (b) by 5
// worker processes running the job on its 16 partitions (decode, windows, results to the KV sink,
// checkpoints every second), then (c) again without checkpoints. The worker runs start from an empty
// results bucket and no checkpoints, all workers receiving their partitions at the same moment. Then
// the same events published in the producer's batches (100 events a message) are run the same way.
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { JobProducer } from '../cluster/producer.ts';
import { CHECKPOINTS_BUCKET, deadLetterStream, inputStream, lateStream, resultsBucket } from '../common/names.ts';
import { benchEvent, benchJob } from './bench-job.ts';
import { prepareJob, withNats } from './cluster-support.ts';
import type { Figure } from './results-file.ts';
import type { Scenario } from './scenario.ts';
import { steadyRate, WorkerFleet } from './worker-fleet.ts';

const EVENTS = 600_000;
/** 1,000 keys, 20 events per ms of event time: 20 events per key and 1 s window. */
const KEYS = 1_000;
const WORKERS = 5;

async function publish(nc: NatsConnection, batchEvents: number): Promise<void> {
  const producer = new JobProducer(nc, benchJob, { producerId: `bench-${batchEvents}`, batchEvents, maxInFlight: 2_048 });
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < EVENTS; i++) await producer.publish(benchEvent(i, KEYS, t0 + Math.floor(i / 20)));
  await producer.flush();
  producer.close();
}

/** Events per second one ordered consumer reads, doing nothing with the messages: every message of the
 *  stream is read, and the events they hold (known from publishing) are divided by the time taken. */
async function rawConsumeRate(nc: NatsConnection): Promise<number> {
  const total = (await (await jetstreamManager(nc)).streams.info(inputStream(benchJob.name))).state.messages;
  const consumer = await jetstream(nc).consumers.get(inputStream(benchJob.name), { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 1_000 });
  const began = performance.now();
  let n = 0;
  for await (const _m of messages) if (++n >= total) break;
  const seconds = (performance.now() - began) / 1000;
  messages.stop();
  return EVENTS / seconds;
}

/** Forgets what an earlier run wrote: results, checkpoints, side outputs. The input stays. */
async function resetJobState(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const stream of [`KV_${resultsBucket(benchJob.name)}`, `KV_${CHECKPOINTS_BUCKET}`, deadLetterStream(benchJob.name), lateStream(benchJob.name)]) await jsm.streams.purge(stream).catch(() => {});
}

async function fleetRate(url: string, nc: NatsConnection, checkpointIntervalMs: number): Promise<number> {
  await resetJobState(nc);
  const fleet = await WorkerFleet.start(url, WORKERS, { SHARDFLOW_CHECKPOINT_INTERVAL_MS: String(checkpointIntervalMs), SHARDFLOW_CHECKPOINT_EVERY_EVENTS: '1000000000', SHARDFLOW_LOG_LEVEL: 'info' });
  try {
    await fleet.assign(nc, benchJob.name, benchJob.partitions);
    return (await steadyRate(() => fleet.sum('shardflow_events_in_total'), EVENTS)).perSecond;
  } finally {
    await fleet.stop();
  }
}

export async function clusterThroughput(log: (line: string) => void): Promise<Figure[]> {
  const single = await withNats(async (server, nc) => {
    await prepareJob(nc, benchJob.name);
    await publish(nc, 1);
    // Best of several runs of each, interleaved: this machine's speed drifts by tens of percent
    // within minutes, and one run of each could compare a fast minute with a slow one.
    let raw = 0;
    let withCheckpoints = 0;
    let without = 0;
    for (let round = 0; round < 2; round++) {
      raw = Math.max(raw, await rawConsumeRate(nc));
      withCheckpoints = Math.max(withCheckpoints, await fleetRate(server.url, nc, 1_000));
      without = Math.max(without, await fleetRate(server.url, nc, 3_600_000));
    }
    raw = Math.max(raw, await rawConsumeRate(nc));
    return { raw, withCheckpoints, without };
  });
  const batched = await withNats(async (server, nc) => {
    await prepareJob(nc, benchJob.name);
    await publish(nc, 100);
    return { raw: await rawConsumeRate(nc), cluster: await fleetRate(server.url, nc, 1_000) };
  });
  const ratio = single.withCheckpoints / single.raw;
  log(`jetstream raw consume   ${fmt(single.raw)} events/s (${EVENTS.toLocaleString('en-US')} events, one per message, one ordered consumer doing nothing)`);
  log(`cluster, 5 workers      ${fmt(single.withCheckpoints)} events/s (16 partitions, checkpoint every 1 s) = ${ratio.toFixed(2)} of raw`);
  log(`cluster, no checkpoints ${fmt(single.without)} events/s; checkpoint overhead ratio ${(single.withCheckpoints / single.without).toFixed(3)} (with / without)`);
  log(`batched input           ${fmt(batched.cluster)} events/s (100 events a message; raw consume of that stream ${fmt(batched.raw).trim()} events/s)`);
  return [
    { name: 'cluster.jetstream_raw.events_per_s', value: Math.round(single.raw), unit: 'events/s' },
    { name: 'cluster.tumbling.events_per_s', value: Math.round(single.withCheckpoints), unit: 'events/s' },
    { name: 'cluster.no_checkpoints.events_per_s', value: Math.round(single.without), unit: 'events/s' },
    { name: 'cluster.throughput_ratio', value: Number(ratio.toFixed(3)), unit: 'ratio' },
    { name: 'cluster.checkpoint_overhead_ratio', value: Number((single.withCheckpoints / single.without).toFixed(3)), unit: 'ratio (with / without checkpoints)' },
    { name: 'cluster.batched.events_per_s', value: Math.round(batched.cluster), unit: 'events/s' },
    { name: 'cluster.batched_vs_raw_single_ratio', value: Number((batched.cluster / single.raw).toFixed(3)), unit: 'ratio' },
  ];
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(9);
}

export const clusterThroughputScenario: Scenario = {
  name: 'cluster-throughput',
  title: 'Cluster: 5 workers against raw JetStream',
  description:
    '600,000 events of the bench job (bench/bench-job.ts: JSON events validated with zod, 1,000 keys, 1 s tumbling ' +
    'windows, count/sum/avg, results to the KV sink: 30,000 result rows) are published to the 16-partition input stream ' +
    "of a nats-server of the benchmark's own, one event per message. They are read from the start by one ordered " +
    'consumer doing nothing with them (the physical limit: what reading alone costs here), then by 5 worker ' +
    'processes (`shardflow worker`) that receive the 16 partitions at the same moment from an assignment record, ' +
    'checkpointing every second, then once more without checkpoints; each measurement is the best of two (three for ' +
    'raw consume), interleaved, because the speed of this virtual machine drifts. A worker run is measured between 10% and 90% ' +
    'of the events (all workers running), from the sum of their `shardflow_events_in_total`; each starts with no ' +
    'results and no checkpoints. The workers and nats-server share the machine\'s 2 cores. Then the same events are ' +
    "published in the producer's batches (100 events a message, what `JobProducer` and `shardflow produce` send by " +
    'default) and run the same way: a batch costs the server and the readers one message.',
  figures: [
    { name: 'cluster.jetstream_raw.events_per_s', unit: 'events/s', label: 'raw JetStream consume (one ordered consumer, one event per message, no processing)' },
    { name: 'cluster.tumbling.events_per_s', unit: 'events/s', label: '5 workers, tumbling job, checkpoint every 1 s' },
    { name: 'cluster.no_checkpoints.events_per_s', unit: 'events/s', label: '5 workers, no checkpoints' },
    { name: 'cluster.throughput_ratio', unit: 'ratio', label: '5 workers / raw consume', target: { op: '>=', value: 0.7 } },
    { name: 'cluster.checkpoint_overhead_ratio', unit: 'ratio (with / without checkpoints)', label: 'with checkpoints every 1 s / without', target: { op: '>=', value: 0.9 } },
    { name: 'cluster.batched.events_per_s', unit: 'events/s', label: '5 workers, producer batches of 100 events' },
    { name: 'cluster.batched_vs_raw_single_ratio', unit: 'ratio', label: 'batched input through the cluster / raw consume of single-event messages' },
  ],
  run: clusterThroughput,
};
