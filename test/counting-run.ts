// Runs of the counting job (test/fixtures/counting-job.ts) for integration tests: its event stream,
// publishing, and the check that the sink holds exactly what the oracle computes from the log.
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { expect } from 'vitest';
import type { JobProducer } from '../cluster/producer.ts';
import { readKvResults } from '../cluster/sinks/kv-sink.ts';
import { lateStream, resultsBucket } from '../common/names.ts';
import { seededRandom } from '../common/random.ts';
import { eventId, readStream, recentWarnings, sleep, waitFor, type ShardflowProcess } from './cluster-harness.ts';
import { expectedCounting } from './counting-oracle.ts';
import { COUNTING } from './fixtures/counting-job.ts';

export const COUNTING_MODULE = 'test/fixtures/counting-job.ts';
const T0 = Date.UTC(2026, 0, 1);

/** Keyed numbers a little out of order (within the bound), with ~3% events far behind (late). Event
 *  `i` is at `t0 + 2i` ms: a fixed past date by default; a cluster that idled since the previous batch
 *  has moved its watermark to the wall clock, so such a batch must start at about now. */
export function* countingEvents(seed: number, from: number, count: number, t0 = T0): Generator<string> {
  const random = seededRandom(seed);
  for (let i = from; i < from + count; i++) {
    const late = random() < 0.03;
    const t = t0 + i * 2 - (late ? COUNTING.bound + 1 + Math.floor(random() * 3_000) : Math.floor(random() * COUNTING.bound));
    yield JSON.stringify({ k: `k${Math.floor(random() * 60)}`, v: Math.floor(random() * 100), t });
  }
}

export async function publishAll<E>(producer: JobProducer<E>, batch: Iterable<string>, pauseEvery = 0): Promise<void> {
  let n = 0;
  for (const raw of batch) {
    await producer.publish(raw);
    if (pauseEvery && ++n % pauseEvery === 0) await sleep(25);
  }
  await producer.flush();
}

async function sinkRows(nc: NatsConnection): Promise<Map<string, Record<string, unknown>>> {
  const rows = await readKvResults(await new Kvm(nc).open(resultsBucket('counting')));
  const byWindow = new Map<string, Record<string, unknown>>();
  for (const { job: _job, key, window_start, window_end, revision: _rev, ...values } of rows) {
    expect(byWindow.has(`${key}|${window_start}|${window_end}`)).toBe(false);
    byWindow.set(`${key}|${window_start}|${window_end}`, values);
  }
  return byWindow;
}

/** Waits until the sink equals the oracle (recomputed from the log each time), then checks the late
 *  side output: every late event once, with its reason. */
function lateId(m: { headers: Record<string, string> }): number {
  return eventId(Number(m.headers['Shardflow-Source-Seq']), Number(m.headers['Shardflow-Source-Index']));
}

export async function expectExactResults(nc: NatsConnection, processes: ShardflowProcess[], timeoutMs: number): Promise<{ results: number; late: number }> {
  let last = { expected: 0, found: 0, missing: 0, wrong: 0, extra: 0 };
  try {
    await waitFor(
      async () => {
        const expected = await expectedCounting(nc);
        const found = await sinkRows(nc);
        let missing = 0;
        let wrong = 0;
        for (const [id, agg] of expected.results) {
          const row = found.get(id);
          if (!row) missing++;
          else if (JSON.stringify(row) !== JSON.stringify(agg)) wrong++;
        }
        const extra = [...found.keys()].filter((id) => !expected.results.has(id)).length;
        last = { expected: expected.results.size, found: found.size, missing, wrong, extra };
        return missing === 0 && wrong === 0 && extra === 0;
      },
      timeoutMs,
      'the sink to equal the oracle',
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${JSON.stringify(last)}\n${recentWarnings(processes)}`);
  }
  const expected = await expectedCounting(nc);
  let late = await readStream(nc, lateStream('counting'));
  try {
    await waitFor(async () => (late = await readStream(nc, lateStream('counting'))).length >= expected.late.size, 20_000, 'late side output');
  } catch (err) {
    const seen = new Set(late.map(lateId));
    const missing = [...expected.late].filter((s) => !seen.has(s));
    throw new Error(`${(err as Error).message}: ${late.length} of ${expected.late.size} late events; missing positions ${missing.slice(0, 20).join(',')}`);
  }
  const lateSeqs = late.map(lateId);
  expect(new Set(lateSeqs).size).toBe(lateSeqs.length);
  expect(new Set(lateSeqs)).toEqual(expected.late);
  for (const m of late) expect(m.headers['Shardflow-Reason']).toBe('window-closed');
  return { results: expected.results.size, late: late.length };
}
