// The expected content of the sink for the counting job (test/fixtures/counting-job.ts), computed
// from the partition logs exactly as JetStream stores them (events and watermark markers, in order),
// with the brute-force window oracle. Shares no code with the workers.
import type { NatsConnection } from '@nats-io/transport-node';
import { eventId, readInputLog } from './cluster-harness.ts';
import { COUNTING } from './fixtures/counting-job.ts';
import { alignedOracle, type Agg, type OracleEvent } from './window-oracle.ts';

export interface CountingExpectation {
  /** "key|start|end" -> the aggregates of the window's last emission. */
  results: Map<string, Agg>;
  /** Positions (eventId) of the late events. */
  late: Set<number>;
  /** Positions (eventId) of events the decoder must reject. */
  invalid: Set<number>;
}

export async function expectedCounting(nc: NatsConnection): Promise<CountingExpectation> {
  const byPartition = new Map<number, OracleEvent[]>();
  const invalid = new Set<number>();
  for (const m of await readInputLog(nc, 'counting')) {
    const list = byPartition.get(m.partition) ?? [];
    byPartition.set(m.partition, list);
    if (m.kind === 'marker') {
      list.push({ key: '', ts: 0, input: 0, v: 0, id: eventId(m.seq, 0), marker: m.watermark });
      continue;
    }
    m.events.forEach((data, index) => {
      const id = eventId(m.seq, index);
      let e: { k?: unknown; v?: unknown; t?: unknown };
      try {
        e = JSON.parse(new TextDecoder().decode(data));
      } catch {
        invalid.add(id);
        return;
      }
      // The job's limits: 1 MiB events, times from 2000 to 5 minutes ahead of ingestion, keys of at
      // most 512 bytes without control characters.
      const bad =
        typeof e.k !== 'string' || e.k === '' || !Number.isInteger(e.v) || typeof e.t !== 'number' || Object.keys(e).length !== 3 || data.byteLength > 1024 * 1024 ||
        e.t < Date.UTC(2000, 0, 1) || e.t > m.ingestTime + 300_000 || Buffer.byteLength(e.k) > 512 || /[\u0000-\u001f\u007f]/.test(e.k);
      if (bad) {
        invalid.add(id);
        return;
      }
      list.push({ key: e.k as string, ts: e.t as number, input: 0, v: e.v as number, id });
    });
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
