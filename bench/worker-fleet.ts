// Worker processes for the cluster benchmarks, started the way a deployment starts them (the
// `shardflow worker` command), idle until the benchmark hands them partitions all at once: it writes
// an assignment record as a leader would, so every worker starts reading at the same moment and the
// measured time is the cluster's, not the spread of process start-ups.
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ASSIGNMENT_KEY, COORDINATION_BUCKET } from '../common/names.ts';
import type { AssignmentRecord } from '../coordinator/protocol.ts';
import { WorkerProcess } from '../test/cluster-harness.ts';

export const BENCH_JOB_MODULE = 'bench/bench-job.ts';

export class WorkerFleet {
  private constructor(
    readonly workers: WorkerProcess[],
    private readonly ports: number[],
  ) {}

  /** Starts `count` workers of the job module and waits until each is ready (and owns nothing). */
  static async start(url: string, count: number, env: Record<string, string> = {}, jobModule = BENCH_JOB_MODULE): Promise<WorkerFleet> {
    const workers = Array.from({ length: count }, (_, i) => new WorkerProcess(`bw${i + 1}`, ['--job', jobModule], { SHARDFLOW_NATS_URL: url, ...env }));
    await Promise.all(workers.map((w) => w.start()));
    const ports = workers.map((w) => Number(/"metricsPort":(\d+)/.exec(w.output)?.[1]));
    return new WorkerFleet(workers, ports);
  }

  /** Gives the job's partitions to the workers, spread evenly, in one assignment record. */
  async assign(nc: NatsConnection, job: string, partitions: number): Promise<void> {
    const kv = await new Kvm(nc).open(COORDINATION_BUCKET);
    const owners = Array.from({ length: partitions }, (_, p) => this.workers[p % this.workers.length]!.id);
    const record: AssignmentRecord = { term: 1, version: 1, owners: { [job]: owners }, handoffs: {}, writtenAt: Date.now() };
    await kv.put(ASSIGNMENT_KEY, JSON.stringify(record));
  }

  /** The sum of a counter over every worker's /metrics (e.g. shardflow_events_in_total). */
  async sum(metric: string): Promise<number> {
    const texts = await Promise.all(this.ports.map((port) => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text())));
    let total = 0;
    const line = new RegExp(`^${metric}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'gm');
    for (const text of texts) for (const m of text.matchAll(line)) total += Number(m[1]);
    return total;
  }

  /** Resident memory of each worker, MiB (process_resident_memory_bytes). */
  async rssMb(): Promise<number[]> {
    return Promise.all(
      this.ports.map(async (port) => {
        const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
        return Number(/^shardflow_process_resident_memory_bytes ([0-9.e+]+)$/m.exec(text)?.[1] ?? 0) / 2 ** 20;
      }),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop().catch(() => w.kill())));
  }
}

/**
 * Steady throughput of a run: samples `read()` (a running count) until it reaches `total`, and returns
 * the rate between the samples at 10% and 90% of it, when every worker is running, not starting or
 * finishing. Also the time the whole run took.
 */
export async function steadyRate(read: () => Promise<number>, total: number, timeoutMs = 300_000): Promise<{ perSecond: number; seconds: number }> {
  const began = performance.now();
  let low: { at: number; value: number } | undefined;
  let high: { at: number; value: number } | undefined;
  for (;;) {
    const value = await read();
    const at = performance.now();
    if (!low && value >= total * 0.1) low = { at, value };
    if (!high && value >= total * 0.9) high = { at, value };
    if (value >= total) break;
    if (at - began > timeoutMs) throw new Error(`only ${value} of ${total} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const seconds = (performance.now() - began) / 1000;
  if (!low || !high || high.at <= low.at) return { perSecond: total / seconds, seconds };
  return { perSecond: (high.value - low.value) / ((high.at - low.at) / 1000), seconds };
}
