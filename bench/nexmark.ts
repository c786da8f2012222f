// Scenario: Nexmark query 5 ("hot items": bids per auction in 10 s windows sliding by 2 s) on the
// cluster, so its throughput can be set beside the published Nexmark figures of other engines. Bids
// from the job's seeded Nexmark-shaped generator are published first (the producer's batches), then 5
// worker processes receive the 16 partitions at once and the steady rate is measured as in
// cluster-throughput. Both the sliding windows (one pane per 2 s, five panes merged per window) and
// the skew of the generator (half the bids go to one hot auction) are q5's.
import { JobProducer } from '../cluster/producer.ts';
import { seededRandom } from '../common/random.ts';
import { nexmarkQ5 } from '../jobs/examples/nexmark-q5.ts';
import { prepareJob, withNats } from './cluster-support.ts';
import type { Figure } from './results-file.ts';
import type { Scenario } from './scenario.ts';
import { steadyRate, WorkerFleet } from './worker-fleet.ts';

const BIDS = 400_000;
const WORKERS = 5;

export async function nexmark(log: (line: string) => void): Promise<Figure[]> {
  const rate = await withNats(async (server, nc) => {
    await prepareJob(nc, nexmarkQ5.name);
    const producer = new JobProducer(nc, nexmarkQ5, { producerId: 'nexmark' });
    const random = seededRandom(5);
    // The generator spaces bids 50 ms apart; compress to 2 ms (500 bids a second of event time).
    const start = Date.now() - BIDS * 2;
    for (let i = 0; i < BIDS; i++) await producer.publish(nexmarkQ5.generate!(random, i, start - i * 48));
    await producer.flush();
    producer.close();
    const fleet = await WorkerFleet.start(server.url, WORKERS, {}, nexmarkQ5.name);
    try {
      await fleet.assign(nc, nexmarkQ5.name, nexmarkQ5.partitions);
      return (await steadyRate(() => fleet.sum('shardflow_events_in_total'), BIDS)).perSecond;
    } finally {
      await fleet.stop();
    }
  });
  log(`nexmark q5, 5 workers  ${Math.round(rate).toLocaleString('en-US').padStart(9)} bids/s (${BIDS.toLocaleString('en-US')} bids, 16 partitions, sliding 10 s / 2 s)`);
  return [{ name: 'nexmark.q5.events_per_s', value: Math.round(rate), unit: 'events/s' }];
}

export const nexmarkScenario: Scenario = {
  name: 'nexmark',
  title: 'Nexmark q5 on the cluster',
  description:
    'The `nexmark-q5` job (jobs/examples/nexmark-q5.ts: bids from a Nexmark-shaped seeded generator, counted per ' +
    'auction in 10 s windows sliding by 2 s, into the KV sink) on 5 worker processes and one nats-server sharing 2 ' +
    'cores. 400,000 bids (500 per second of event time, half of them to the current hot auction, about 0.5% ' +
    'dirty) are published in the producer\'s batches, then the workers receive the 16 partitions at once and the ' +
    'rate is read from their `shardflow_events_in_total` between 10% and 90% of the bids. Published Nexmark ' +
    'figures of other engines are per core on larger machines: compare per core.',
  figures: [{ name: 'nexmark.q5.events_per_s', unit: 'events/s', label: 'bids per second, 5 workers, 2 cores' }],
  run: nexmark,
};
