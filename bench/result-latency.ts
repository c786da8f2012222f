// Scenario: result latency. Events with event time = now arrive at a steady rate (watermark bound 0),
// so a partition's watermark passes a window's end when the first event at or after that end is
// published. The latency of a result is from that moment to the result being readable in the KV
// sink (seen by a KV watcher). p50 and p99 over every (key, window) of the run.
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { JobProducer } from '../cluster/producer.ts';
import { Worker } from '../cluster/worker.ts';
import { resultsBucket } from '../common/names.ts';
import { partitionOf } from '../common/partition.ts';
import type { ResultRow } from '../cluster/sinks/sink.ts';
import { benchEvent, benchJob } from './bench-job.ts';
import { percentile, prepareJob, quietLog, withNats } from './cluster-support.ts';
import type { Figure } from './results-file.ts';
import type { Scenario } from './scenario.ts';

const RATE = 2_000;
const SECONDS = 12;
const KEYS = 100;

export async function resultLatency(log: (line: string) => void): Promise<Figure[]> {
  return withNats(async (server, nc) => {
    await prepareJob(nc, benchJob.name);
    const worker = await Worker.start({ id: 'bench-latency', mode: 'static', heartbeatMs: 250, metricsPort: 0, natsUrl: server.url, replicas: 1, jobs: [benchJob as never], checkpointIntervalMs: 1_000, checkpointEveryEvents: 1_000_000, log: quietLog });
    worker.assign(benchJob.name, [...Array(benchJob.partitions).keys()]);
    await new Promise((r) => setTimeout(r, 500));

    const seen: { row: ResultRow; at: number }[] = [];
    const kv = await new Kvm(nc).open(resultsBucket(benchJob.name));
    const watch = await kv.watch({ key: 'w.>' });
    void (async () => {
      for await (const e of watch) if (e.operation === 'PUT') seen.push({ row: e.json() as ResultRow, at: Date.now() });
    })();

    // crossing[p].get(end): wall time at which partition p first got an event at or after `end`.
    const crossing = Array.from({ length: benchJob.partitions }, () => new Map<number, number>());
    const lastEnd = new Array<number>(benchJob.partitions).fill(0);
    const producer = new JobProducer(nc, benchJob, { producerId: 'latency' });
    const began = Date.now();
    for (let i = 0; i < RATE * SECONDS; i++) {
      const due = began + (i * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const now = Date.now();
      const key = `key-${i % KEYS}`;
      const p = partitionOf(key, benchJob.partitions);
      const end = Math.floor(now / 1000) * 1000;
      if (lastEnd[p]! === 0) lastEnd[p] = end;
      for (let e = lastEnd[p]! + 1000; e <= end; e += 1000) crossing[p]!.set(e, now);
      lastEnd[p] = Math.max(lastEnd[p]!, end);
      await producer.publish(benchEvent(i, KEYS, now));
    }
    await producer.flush();
    await new Promise((r) => setTimeout(r, 1_500));
    watch.stop();
    await worker.shutdown();

    const latencies: number[] = [];
    for (const { row, at } of seen) {
      if (row.revision !== 0) continue;
      const from = crossing[partitionOf(row.key, benchJob.partitions)]!.get(row.window_end);
      if (from !== undefined) latencies.push(at - from);
    }
    latencies.sort((a, b) => a - b);
    const p50 = percentile(latencies, 0.5);
    const p99 = percentile(latencies, 0.99);
    log(`result latency         p50 ${p50} ms, p99 ${p99} ms over ${latencies.length} window results (${RATE} events/s, ${KEYS} keys, 1 s windows)`);
    return [
      { name: 'latency.window_result.p50_ms', value: p50, unit: 'ms' },
      { name: 'latency.window_result.p99_ms', value: p99, unit: 'ms' },
    ];
  });
}

export const resultLatencyScenario: Scenario = {
  name: 'result-latency',
  title: 'Result latency',
  description:
    'Events with event time = now arrive at 2,000 events/s over 100 keys for 12 s, into the bench job (1 s tumbling ' +
    'windows, watermark bound 0) run by one in-process worker on all 16 partitions. A partition\'s watermark passes a ' +
    'window\'s end when its first event at or after that end is published; a result\'s latency runs from that moment to ' +
    'the result being readable in the KV sink, as a KV watcher in the benchmark process sees it. Percentiles over ' +
    'every first firing (revision 0) of every key and window of the run.',
  figures: [
    { name: 'latency.window_result.p50_ms', unit: 'ms', label: 'watermark past the window end -> result readable, p50' },
    { name: 'latency.window_result.p99_ms', unit: 'ms', label: 'same, p99', target: { op: '<', value: 250 } },
  ],
  run: resultLatency,
};
