// Integration: real nats-server, real worker processes, kill -9 and SIGSTOP. The sink must hold exactly
// what the brute-force oracle computes from the partition logs: nothing missing, nothing duplicated.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterEach, describe, expect, it } from 'vitest';
import { CHECKPOINTS_BUCKET, checkpointKey, inputStream, lateStream, resultsBucket } from '../common/names.ts';
import { seededRandom } from '../common/random.ts';
import { readStream, sleep, startTestNats, waitFor, WorkerProcess, type TestNats } from '../test/cluster-harness.ts';
import { expectedCounting } from '../test/counting-oracle.ts';
import countingJob, { COUNTING } from '../test/fixtures/counting-job.ts';
import { JobProducer } from './producer.ts';
import { readKvResults } from './sinks/kv-sink.ts';
import { ensureJobTopology } from './topology.ts';

const JOB_MODULE = 'test/fixtures/counting-job.ts';
const T0 = Date.UTC(2026, 0, 1);

let nats: TestNats | undefined;
const workers: WorkerProcess[] = [];

afterEach(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  workers.length = 0;
  await nats?.close();
  nats = undefined;
});

function worker(id: string, partitions: string): WorkerProcess {
  const w = new WorkerProcess(id, ['--job', JOB_MODULE, '--partitions', partitions], {
    SHARDFLOW_NATS_URL: nats!.url,
    SHARDFLOW_CHECKPOINT_INTERVAL_MS: '150',
    SHARDFLOW_CHECKPOINT_EVERY_EVENTS: '1500',
  });
  workers.push(w);
  return w;
}

/** Keyed numbers a little out of order (within the bound), with ~3% events far behind (late). */
function* events(seed: number, from: number, count: number): Generator<string> {
  const random = seededRandom(seed);
  for (let i = from; i < from + count; i++) {
    const late = random() < 0.03;
    const t = T0 + i * 2 - (late ? COUNTING.bound + 1 + Math.floor(random() * 3_000) : Math.floor(random() * COUNTING.bound));
    yield JSON.stringify({ k: `k${Math.floor(random() * 60)}`, v: Math.floor(random() * 100), t });
  }
}

async function publish<E>(producer: JobProducer<E>, batch: Iterable<string>, pauseEvery = 0): Promise<void> {
  let n = 0;
  for (const raw of batch) {
    await producer.publish(raw);
    if (pauseEvery && ++n % pauseEvery === 0) await sleep(25);
  }
  await producer.flush();
}

async function sinkRows(): Promise<Map<string, Record<string, unknown>>> {
  const kv = await new Kvm(nats!.nc).open(resultsBucket('counting'));
  const rows = await readKvResults(kv);
  const byWindow = new Map<string, Record<string, unknown>>();
  for (const { job: _job, key, window_start, window_end, revision: _rev, ...values } of rows) {
    expect(byWindow.has(`${key}|${window_start}|${window_end}`)).toBe(false);
    byWindow.set(`${key}|${window_start}|${window_end}`, values);
  }
  return byWindow;
}

/** Waits until the sink equals the oracle (recomputed from the log each time), then checks the side output. */
async function expectExactResults(timeoutMs: number): Promise<{ results: number; late: number }> {
  let last = { expected: 0, found: 0, missing: 0, wrong: 0, extra: 0 };
  try {
    await waitFor(
      async () => {
        const expected = await expectedCounting(nats!.nc);
        const found = await sinkRows();
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
    throw new Error(`${(err as Error).message}: ${JSON.stringify(last)}\n${workers.map((w) => `--- ${w.id}\n${w.output.split('\n').filter((l) => /"level":(40|50|60)/.test(l)).slice(-10).join('\n')}`).join('\n')}`);
  }
  const expected = await expectedCounting(nats!.nc);
  await waitFor(async () => (await readStream(nats!.nc, lateStream('counting'))).length >= expected.late.size, 20_000, 'late side output');
  const late = await readStream(nats!.nc, lateStream('counting'));
  const lateSeqs = late.map((m) => Number(m.headers['Shardflow-Source-Seq']));
  expect(new Set(lateSeqs).size).toBe(lateSeqs.length);
  expect(new Set(lateSeqs)).toEqual(expected.late);
  for (const m of late) expect(m.headers['Shardflow-Reason']).toBe('window-closed');
  return { results: expected.results.size, late: late.length };
}

describe('workers on JetStream', () => {
  it('give exactly the oracle results after repeated kill -9 of workers while events arrive', async () => {
    nats = await startTestNats();
    await ensureJobTopology(nats.nc, await jetstreamManager(nats.nc), 'counting', { replicas: 1 });
    const producer = new JobProducer(jetstream(nats.nc), countingJob, { producerId: 'chaos' });
    await publish(producer, events(1, 0, 20_000));
    const w1 = worker('w1', '0-3');
    const w2 = worker('w2', '4-7');
    await Promise.all([w1.start(), w2.start()]);

    const random = seededRandom(99);
    const publishing = publish(producer, events(2, 20_000, 40_000), 500);
    let kills = 0;
    for (; kills < 6; kills++) {
      await sleep(300 + Math.floor(random() * 900));
      const victim = random() < 0.5 ? w1 : w2;
      await victim.kill();
      await sleep(Math.floor(random() * 400));
      await victim.start();
    }
    await publishing;
    const { results, late } = await expectExactResults(90_000);
    expect(results).toBeGreaterThan(1_000);
    expect(late).toBeGreaterThan(100);
    // The restarted workers resumed from checkpoints, not from the start of the stream.
    expect(`${w1.output}${w2.output}`).toMatch(/"restoredBytes":[1-9]/);
    expect(await w1.stop()).toBe(0);
    expect(await w2.stop()).toBe(0);
  }, 180_000);

  it('fence a paused owner: after SIGCONT its checkpoints are refused and the results stay exact', async () => {
    nats = await startTestNats();
    await ensureJobTopology(nats.nc, await jetstreamManager(nats.nc), 'counting', { replicas: 1 });
    const producer = new JobProducer(jetstream(nats.nc), countingJob, { producerId: 'fence' });
    await publish(producer, events(3, 0, 15_000));
    const zombie = worker('zombie', 'all');
    await zombie.start();
    const kv = await new Kvm(nats.nc).open(CHECKPOINTS_BUCKET);
    const entry = async (p: number) => (await kv.get(checkpointKey('counting', p)))?.json() as { epoch: number; owner: string | null; seq: number } | undefined;
    await waitFor(async () => (await Promise.all([...Array(COUNTING.partitions).keys()].map(entry))).every((e) => (e?.seq ?? 0) > 0), 30_000, 'first checkpoints');

    zombie.signal('SIGSTOP');
    const successor = worker('successor', 'all');
    await successor.start();
    await waitFor(async () => (await Promise.all([...Array(COUNTING.partitions).keys()].map(entry))).every((e) => e?.owner === 'successor'), 30_000, 'successor owns every partition');
    await publish(producer, events(4, 15_000, 15_000));
    await sleep(1_500);
    zombie.signal('SIGCONT');

    await waitFor(() => (zombie.output.match(/partition taken over by another worker/g) ?? []).length === COUNTING.partitions, 30_000, 'the zombie to notice it was fenced').catch((err: Error) => {
      throw new Error(`${err.message}\n${zombie.output.split('\n').filter((l) => !/dead-lettered|late event/.test(l)).slice(-25).join('\n')}`);
    });
    await waitFor(() => zombie.output.includes('ingest router taken over by another worker'), 10_000, "the zombie's router to notice");
    await expectExactResults(60_000);
    for (let p = 0; p < COUNTING.partitions; p++) expect(await entry(p)).toMatchObject({ owner: 'successor', epoch: 2 });
    expect(await successor.stop()).toBe(0);
    // The successor released its partitions with a final checkpoint covering the whole log.
    const info = await (await jetstreamManager(nats.nc)).streams.info(inputStream('counting'));
    const covered = await Promise.all([...Array(COUNTING.partitions).keys()].map(entry));
    expect(covered.every((e) => e!.owner === null)).toBe(true);
    expect(Math.max(...covered.map((e) => e!.seq))).toBe(info.state.last_seq);
  }, 180_000);
});
