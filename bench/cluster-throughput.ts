// Scenario: a partitioned stream read (a) raw, by one ordered consumer doing nothing with the
// messages, the physical limit here; (b) by a worker running a tumbling job on all 16 partitions,
// with checkpoints every second; (c) the same without checkpoints. Each worker run gets a fresh
// server holding the same events, so neither inherits the other's results or checkpoints.
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { JobProducer } from '../cluster/producer.ts';
import { Worker } from '../cluster/worker.ts';
import { metrics } from '../common/metrics.ts';
import { inputStream, partitionSubject } from '../common/names.ts';
import { benchEvent, benchJob } from './bench-job.ts';
import { prepareJob, quietLog, withNats } from './cluster-support.ts';
import type { Figure } from './results-file.ts';

const EVENTS = 200_000;
/** 1,000 keys, 20 events per ms of event time: 20 events per key and 1 s window. */
const KEYS = 1_000;

export async function clusterThroughput(log: (line: string) => void): Promise<Figure[]> {
  const run = (checkpointIntervalMs: number) =>
    withNats(async (server, nc) => {
      await prepareJob(nc, benchJob.name);
      const producer = new JobProducer(jetstream(nc), benchJob, { producerId: 'bench', maxInFlight: 1024 });
      const t0 = Date.UTC(2026, 0, 1);
      for (let i = 0; i < EVENTS; i++) await producer.publish(benchEvent(i, KEYS, t0 + Math.floor(i / 20)));
      await producer.flush();
      const raw = await rawConsumeRate(nc);
      const perPartition = await perPartitionConsumeRate(nc);
      return { raw, perPartition, worker: await workerRate(server.url, checkpointIntervalMs) };
    });
  const a = await run(1_000);
  const b = await run(3_600_000);
  const raw = Math.max(a.raw, b.raw);
  const perPartition = Math.max(a.perPartition, b.perPartition);
  log(`jetstream raw consume  ${fmt(raw)} events/s (${EVENTS.toLocaleString('en-US')} events, ${KEYS} keys, 16 partitions, one ordered consumer)`);
  log(`16 partition readers   ${fmt(perPartition)} events/s (one filtered ordered consumer per partition, reading only positions) = ${((perPartition / raw) * 100).toFixed(0)}% of raw`);
  log(`worker, tumbling job   ${fmt(a.worker)} events/s (checkpoint every 1 s) = ${((a.worker / raw) * 100).toFixed(0)}% of raw`);
  log(`worker, no checkpoints ${fmt(b.worker)} events/s; checkpoint overhead ratio ${(a.worker / b.worker).toFixed(3)} (with / without)`);
  return [
    { name: 'cluster.jetstream_raw.events_per_s', value: Math.round(raw), unit: 'events/s' },
    { name: 'cluster.jetstream_per_partition.events_per_s', value: Math.round(perPartition), unit: 'events/s' },
    { name: 'cluster.tumbling.events_per_s', value: Math.round(a.worker), unit: 'events/s' },
    { name: 'cluster.throughput_ratio', value: Number((a.worker / raw).toFixed(3)), unit: 'ratio' },
    { name: 'cluster.checkpoint_overhead_ratio', value: Number((a.worker / b.worker).toFixed(3)), unit: 'ratio (with / without checkpoints)' },
  ];
}

async function rawConsumeRate(nc: NatsConnection): Promise<number> {
  const consumer = await jetstream(nc).consumers.get(inputStream(benchJob.name), { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 1_000 });
  const began = performance.now();
  let n = 0;
  for await (const _m of messages) if (++n === EVENTS) break;
  const seconds = (performance.now() - began) / 1000;
  messages.stop();
  return n / seconds;
}

/** The worker's reading pattern without the work: a filtered ordered consumer per partition. */
async function perPartitionConsumeRate(nc: NatsConnection): Promise<number> {
  const js = jetstream(nc);
  const began = performance.now();
  let n = 0;
  await Promise.all(
    [...Array(benchJob.partitions).keys()].map(async (p) => {
      const consumer = await js.consumers.get(inputStream(benchJob.name), { filter_subjects: partitionSubject(benchJob.name, p), deliver_policy: DeliverPolicy.All });
      const messages = await consumer.consume({ max_messages: 2_000 });
      for await (const m of messages) {
        n++;
        if (m.info.pending === 0) break;
      }
      messages.stop();
    }),
  );
  return n / ((performance.now() - began) / 1000);
}

/** Events per second of an in-process worker over the whole stream, from start to the last event. */
async function workerRate(url: string, checkpointIntervalMs: number): Promise<number> {
  metrics.eventsIn.reset();
  const worker = await Worker.start({
    id: `bench-${checkpointIntervalMs}`,
    mode: 'static',
    heartbeatMs: 250,
    metricsPort: 0,
    natsUrl: url,
    replicas: 1,
    jobs: [benchJob as never],
    checkpointIntervalMs,
    checkpointEveryEvents: 1_000_000_000,
    log: quietLog,
  });
  const began = performance.now();
  worker.assign(benchJob.name, [...Array(benchJob.partitions).keys()]);
  for (;;) {
    const value = (await metrics.eventsIn.get()).values.reduce((n, v) => n + v.value, 0);
    if (value >= EVENTS) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const seconds = (performance.now() - began) / 1000;
  await worker.shutdown();
  return EVENTS / seconds;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(9);
}
