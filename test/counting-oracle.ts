// The expected content of the sink for the counting job (test/fixtures/counting-job.ts), computed
// from the partition logs exactly as JetStream stores them (events and watermark markers, in order),
// with the brute-force window oracle. Shares no code with the workers.
import type { NatsConnection } from '@nats-io/transport-node';
import { inputStream } from '../common/names.ts';
import { readStream } from './cluster-harness.ts';
import { COUNTING } from './fixtures/counting-job.ts';
import { alignedOracle, type Agg, type OracleEvent } from './window-oracle.ts';

export interface CountingExpectation {
  /** "key|start|end" -> the aggregates of the window's last emission. */
  results: Map<string, Agg>;
  /** Stream sequences of the late events. */
  late: Set<number>;
  /** Stream sequences of events the decoder must reject. */
  invalid: Set<number>;
}

export async function expectedCounting(nc: NatsConnection): Promise<CountingExpectation> {
  const byPartition = new Map<string, OracleEvent[]>();
  const invalid = new Set<number>();
  for (const m of await readStream(nc, inputStream('counting'))) {
    const list = byPartition.get(m.subject) ?? [];
    byPartition.set(m.subject, list);
    if (m.headers['Shardflow-Control'] === 'idle') {
      list.push({ key: '', ts: 0, input: 0, v: 0, id: m.seq, marker: Number(m.headers['Shardflow-Watermark']) });
      continue;
    }
    let e: { k?: unknown; v?: unknown; t?: unknown };
    try {
      e = JSON.parse(new TextDecoder().decode(m.data));
    } catch {
      invalid.add(m.seq);
      continue;
    }
    if (typeof e.k !== 'string' || e.k === '' || !Number.isInteger(e.v) || typeof e.t !== 'number' || Object.keys(e).length !== 3 || m.data.byteLength > 1024 * 1024 || e.t < Date.UTC(2000, 0, 1) || e.t > Date.now() + 86_400_000) {
      invalid.add(m.seq);
      continue;
    }
    list.push({ key: e.k, ts: e.t, input: 0, v: e.v as number, id: m.seq });
  }
  const results = new Map<string, Agg>();
  const late = new Set<number>();
  for (const events of byPartition.values()) {
    const o = alignedOracle(events, { kind: 'tumbling', size: COUNTING.size, slide: COUNTING.size, offset: 0, gap: 0, bound: COUNTING.bound, lateness: COUNTING.lateness });
    for (const e of o.emissions) results.set(e.id, e.values);
    for (const id of o.late) late.add(id);
  }
  return { results, late, invalid };
}
