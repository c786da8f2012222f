// The job of the soak (bench/soak.ts): keyed numbers in 1 s windows with a distinct count (state that
// grows with the data), about 2% broken records, and retention small enough that a 20-minute soak
// reaches it within minutes: then the store must stop growing.
import { z } from 'zod';
import type { Random } from '../common/random.ts';
import { count, distinctCount, sum } from '../engine/aggregates/index.ts';
import { tumbling } from '../engine/assigners/tumbling.ts';
import { defineJob } from '../jobs/define-job.ts';

export const SOAK_RETENTION_MS = 5 * 60_000;

export function soakRecord(random: Random, t: number): string {
  if (random() < 0.02) return random() < 0.5 ? `{"k":"k${Math.floor(random() * 200)}","v":` : JSON.stringify({ k: '', v: 1, t });
  return JSON.stringify({ k: `k${Math.floor(random() * 200)}`, v: Math.floor(random() * 1_000), t });
}

const soakJob = defineJob({
  name: 'soak',
  source: { partitions: 8, routers: 2 },
  schema: z.strictObject({ k: z.string().min(1).max(64), v: z.number().int(), t: z.number() }),
  key: 'k',
  eventTime: 't',
  window: tumbling('1s'),
  watermark: { maxOutOfOrderness: '1s', idleTimeout: '2s' },
  aggregates: { count: count(), sum: sum('v'), distinct: distinctCount('v') },
  sink: { type: 'kv', ttl: '3m' },
  retention: {
    input: { maxAge: SOAK_RETENTION_MS, maxBytes: 64 * 1024 * 1024 },
    ingest: { maxAge: SOAK_RETENTION_MS, maxBytes: 16 * 1024 * 1024 },
    deadLetters: { maxAge: SOAK_RETENTION_MS, maxBytes: 16 * 1024 * 1024 },
    late: { maxAge: SOAK_RETENTION_MS, maxBytes: 16 * 1024 * 1024 },
  },
  generate: (random, _index, startTime) => soakRecord(random, startTime),
});

export default soakJob;
