// Scenario: how fast one process publishes a job's events, against the raw rate of asynchronous
// JetStream publishes measured in the same run. Raw: one message per event, each with a message id
// (what makes a retry land once), a window of 1,024 unacknowledged, nothing else done. The producer:
// `JobProducer` as `shardflow produce` and the local cluster use it, deciding each event's partition
// from its key, batching each partition's events (100 a message by default), with message ids and
// retries; and once more with batching off (one message per event).
import type { NatsConnection } from '@nats-io/transport-node';
import { JobProducer } from '../cluster/producer.ts';
import { partitionId, partitionSubject } from '../common/names.ts';
import { AsyncPublisher } from '../nats/async-publisher.ts';
import { benchEvent, benchJob } from './bench-job.ts';
import { prepareJob, withNats } from './cluster-support.ts';
import type { Figure } from './results-file.ts';
import type { Scenario } from './scenario.ts';

const RAW_MESSAGES = 200_000;
const BATCHED_EVENTS = 1_000_000;
const UNBATCHED_EVENTS = 200_000;
const T0 = Date.UTC(2026, 0, 1);

async function rawAsyncPublish(nc: NatsConnection): Promise<number> {
  const publisher = new AsyncPublisher(nc, 1_024);
  const subjects = Array.from({ length: benchJob.partitions }, (_, p) => partitionSubject(partitionId(benchJob.name, p)));
  const began = performance.now();
  const acks: Promise<unknown>[] = [];
  for (let i = 0; i < RAW_MESSAGES; i++) {
    await publisher.ready();
    acks.push(publisher.publish(subjects[i % subjects.length]!, benchEvent(i, 1_000, T0 + i), { msgId: `raw-${i}` }));
  }
  await Promise.all(acks);
  const rate = RAW_MESSAGES / ((performance.now() - began) / 1000);
  publisher.close();
  return rate;
}

async function producerRate(nc: NatsConnection, events: number, batchEvents: number): Promise<number> {
  const producer = new JobProducer(nc, benchJob, { producerId: `bench-${batchEvents}`, batchEvents });
  const began = performance.now();
  for (let i = 0; i < events; i++) await producer.publish(benchEvent(i, 1_000, T0 + i));
  await producer.flush();
  const rate = producer.published / ((performance.now() - began) / 1000);
  producer.close();
  return rate;
}

export async function producerThroughput(log: (line: string) => void): Promise<Figure[]> {
  // A fresh server for each, so none pays for the others' stored messages.
  const fresh = <T>(fn: (nc: NatsConnection) => Promise<T>) =>
    withNats(async (_server, nc) => {
      await prepareJob(nc, benchJob.name);
      return fn(nc);
    });
  const raw = await fresh(rawAsyncPublish);
  const batched = await fresh((nc) => producerRate(nc, BATCHED_EVENTS, 100));
  const unbatched = await fresh((nc) => producerRate(nc, UNBATCHED_EVENTS, 1));
  log(`raw async publish     ${fmt(raw)} messages/s (one event each, message ids, 1,024 in flight)`);
  log(`producer, batched     ${fmt(batched)} events/s (100 events a message, key -> partition, message ids)`);
  log(`producer, unbatched   ${fmt(unbatched)} events/s = ${(unbatched / raw).toFixed(2)} of raw`);
  return [
    { name: 'producer.raw_async_publish.msgs_per_s', value: Math.round(raw), unit: 'messages/s' },
    { name: 'producer.events_per_s', value: Math.round(batched), unit: 'events/s' },
    { name: 'producer.unbatched.events_per_s', value: Math.round(unbatched), unit: 'events/s' },
    { name: 'producer.batched_vs_raw_ratio', value: Number((batched / raw).toFixed(3)), unit: 'ratio' },
    { name: 'producer.unbatched_vs_raw_ratio', value: Number((unbatched / raw).toFixed(3)), unit: 'ratio' },
  ];
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(10);
}

export const producerScenario: Scenario = {
  name: 'producer',
  title: 'Producer throughput against raw asynchronous publishing',
  description:
    'One process publishes the bench job\'s events (bench/bench-job.ts, JSON, 1,000 keys) to its 16-partition ' +
    'input stream on a nats-server of the benchmark\'s own, every message acknowledged by JetStream. Raw: ' +
    '200,000 messages of one event each, with message ids, through the asynchronous publisher (one reply ' +
    'subscription, a window of 1,024 unacknowledged messages), doing nothing else. Then `JobProducer` as ' +
    '`shardflow produce` uses it: each event\'s key read with the job\'s schema to pick its partition, events ' +
    'packed 100 to a message per partition, message ids, retries: 1,000,000 events; and the same with batching ' +
    'off, 200,000 events. Each of the three runs on a fresh server.',
  figures: [
    { name: 'producer.raw_async_publish.msgs_per_s', unit: 'messages/s', label: 'raw asynchronous publish, one event a message, message ids' },
    { name: 'producer.events_per_s', unit: 'events/s', label: 'JobProducer (batches of 100), acknowledged events per second', target: { op: '>=', value: 100_000 } },
    { name: 'producer.unbatched.events_per_s', unit: 'events/s', label: 'JobProducer with batching off' },
    { name: 'producer.batched_vs_raw_ratio', unit: 'ratio', label: 'batched producer events / raw messages' },
    { name: 'producer.unbatched_vs_raw_ratio', unit: 'ratio', label: 'unbatched producer events / raw messages' },
  ],
  run: producerThroughput,
};
