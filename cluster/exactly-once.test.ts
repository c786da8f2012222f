// Integration: real nats-server, real worker processes, kill -9 and SIGSTOP. The sink must hold exactly
// what the brute-force oracle computes from the partition logs: nothing missing, nothing duplicated.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterEach, describe, expect, it } from 'vitest';
import { CHECKPOINTS_BUCKET, checkpointKey, inputStream, partitionId } from '../common/names.ts';
import { seededRandom } from '../common/random.ts';
import { sleep, startTestNats, waitFor, WorkerProcess, type TestNats } from '../test/cluster-harness.ts';
import { COUNTING_MODULE, countingEvents, expectExactResults, publishAll } from '../test/counting-run.ts';
import countingJob, { COUNTING } from '../test/fixtures/counting-job.ts';
import { JobProducer } from './producer.ts';
import { ensureJobTopology } from '../nats/topology.ts';


let nats: TestNats | undefined;
const workers: WorkerProcess[] = [];

afterEach(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  workers.length = 0;
  await nats?.close();
  nats = undefined;
});

function worker(id: string, partitions: string): WorkerProcess {
  const w = new WorkerProcess(id, ['--job', COUNTING_MODULE, '--partitions', partitions], {
    SHARDFLOW_NATS_URL: nats!.url,
    SHARDFLOW_CHECKPOINT_INTERVAL_MS: '150',
    SHARDFLOW_CHECKPOINT_EVERY_EVENTS: '1500',
  });
  workers.push(w);
  return w;
}

describe('workers on JetStream', () => {
  it('give exactly the oracle results after repeated kill -9 of workers while events arrive', async () => {
    nats = await startTestNats();
    await ensureJobTopology(nats.nc, await jetstreamManager(nats.nc), 'counting', { replicas: 1 });
    const producer = new JobProducer(nats.nc, countingJob, { producerId: 'chaos' });
    await publishAll(producer, countingEvents(1, 0, 20_000));
    const w1 = worker('w1', '0-3');
    const w2 = worker('w2', '4-7');
    await Promise.all([w1.start(), w2.start()]);

    const random = seededRandom(99);
    const publishing = publishAll(producer, countingEvents(2, 20_000, 40_000), 500);
    let kills = 0;
    for (; kills < 6; kills++) {
      await sleep(300 + Math.floor(random() * 900));
      const victim = random() < 0.5 ? w1 : w2;
      await victim.kill();
      await sleep(Math.floor(random() * 400));
      await victim.start();
    }
    await publishing;
    const { results, late } = await expectExactResults(nats.nc, workers, 90_000);
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
    const producer = new JobProducer(nats.nc, countingJob, { producerId: 'fence' });
    await publishAll(producer, countingEvents(3, 0, 15_000));
    const zombie = worker('zombie', 'all');
    await zombie.start();
    const kv = await new Kvm(nats.nc).open(CHECKPOINTS_BUCKET);
    const entry = async (p: number) => (await kv.get(checkpointKey(partitionId('counting', p))))?.json() as { epoch: number; owner: string | null; seq: number } | undefined;
    await waitFor(async () => (await Promise.all([...Array(COUNTING.partitions).keys()].map(entry))).every((e) => (e?.seq ?? 0) > 0), 30_000, 'first checkpoints');

    zombie.signal('SIGSTOP');
    const successor = worker('successor', 'all');
    await successor.start();
    await waitFor(async () => (await Promise.all([...Array(COUNTING.partitions).keys()].map(entry))).every((e) => e?.owner === 'successor'), 30_000, 'successor owns every partition');
    await publishAll(producer, countingEvents(4, 15_000, 15_000));
    await sleep(1_500);
    zombie.signal('SIGCONT');

    await waitFor(() => (zombie.output.match(/partition taken over by another worker/g) ?? []).length === COUNTING.partitions, 30_000, 'the zombie to notice it was fenced').catch((err: Error) => {
      throw new Error(`${err.message}\n${zombie.output.split('\n').filter((l) => !/dead-lettered|late event/.test(l)).slice(-25).join('\n')}`);
    });
    await waitFor(() => zombie.output.includes('ingest router taken over by another worker'), 10_000, "the zombie's router to notice");
    await expectExactResults(nats.nc, workers, 60_000);
    for (let p = 0; p < COUNTING.partitions; p++) expect(await entry(p)).toMatchObject({ owner: 'successor', epoch: 2 });
    expect(await successor.stop()).toBe(0);
    // The successor released its partitions with a final checkpoint covering the whole log.
    const info = await (await jetstreamManager(nats.nc)).streams.info(inputStream('counting'));
    const covered = await Promise.all([...Array(COUNTING.partitions).keys()].map(entry));
    expect(covered.every((e) => e!.owner === null)).toBe(true);
    expect(Math.max(...covered.map((e) => e!.seq))).toBe(info.state.last_seq);
  }, 180_000);
});
