// Seed 000: customer feedback of fuel stations (Carburant, Boutique, Lavage, Gaz, and any service
// added later without a code change) -> per station and service, every minute: feedback count,
// average rating, average sentiment of the comments and share of negative comments.
import { z } from 'zod';
import { intBetween, pick, type Random } from '../../common/random.ts';
import { avg, count, topK } from '../../engine/aggregates/index.ts';
import { tumbling } from '../../engine/assigners/tumbling.ts';
import { defineJob } from '../define-job.ts';
import { sentimentScore } from './sentiment.ts';

const Feedback = z.object({
  station_id: z.string().min(1).max(64),
  service: z.string().min(1).max(64),
  rating: z.number().int().min(1).max(5),
  comment: z.string().max(2_000).default(''),
  ts: z.union([z.string().max(64), z.number()]),
});

export type Feedback = z.infer<typeof Feedback>;

const STATIONS = Array.from({ length: 12 }, (_, i) => `ST-${String(i + 1).padStart(2, '0')}`);
const SERVICES = ['Carburant', 'Boutique', 'Lavage', 'Gaz'];
const COMMENTS = [
  'Service rapide et personnel aimable',
  'Station propre, merci',
  'Attente trop longue a la pompe',
  'Prix trop cher et boutique sale',
  'Lavage parfait, voiture tres propre',
  'Bouteille de gaz en rupture, decu',
  'Pas mal, rien a signaler',
  'Pas propre du tout',
  'Excellent accueil',
  'Machine en panne depuis une semaine',
];

/** One raw feedback event; about 2% are dirty (malformed, wrong types, missing fields). */
export function generateFeedback(random: Random, index: number, startTime: number): string {
  // About 20 events per second of event time, up to 5 s out of order.
  const ts = startTime + index * 50 - intBetween(random, 0, 5_000);
  const dirt = random();
  if (dirt < 0.005) return '{"station_id": "ST-01", "service": ';
  if (dirt < 0.01) return JSON.stringify({ station_id: pick(random, STATIONS), service: 'Lavage', rating: 'five', ts: new Date(ts).toISOString() });
  if (dirt < 0.015) return JSON.stringify({ station_id: pick(random, STATIONS), service: 'Gaz', rating: 4 });
  if (dirt < 0.02) return JSON.stringify({ station_id: pick(random, STATIONS), service: 'Boutique', rating: 3, ts: '2999-01-01T00:00:00Z' });
  // A new service appears now and then: it needs no code change.
  const service = random() < 0.03 ? 'Restauration' : pick(random, SERVICES);
  const event: Feedback = {
    station_id: pick(random, STATIONS),
    service,
    rating: intBetween(random, 1, 5),
    comment: pick(random, COMMENTS),
    ts: new Date(ts).toISOString(),
  };
  return JSON.stringify(event);
}

export const stationSentiment = defineJob({
  name: 'station-sentiment',
  description: 'Per station and service, every minute: feedback count, average rating and comment sentiment',
  source: { partitions: 16 },
  schema: Feedback,
  key: ['station_id', 'service'],
  eventTime: 'ts',
  window: tumbling('1m'),
  watermark: { maxOutOfOrderness: '5s', idleTimeout: '30s' },
  allowedLateness: '1m',
  aggregates: {
    feedback: count(),
    avg_rating: avg('rating'),
    avg_sentiment: avg((e: Feedback) => sentimentScore(e.comment)),
    negative_share: avg((e: Feedback) => (sentimentScore(e.comment) < 0 ? 1 : 0)),
    top_comments: topK('comment', 3),
  },
  sink: { type: 'kv' },
  generate: generateFeedback,
});
