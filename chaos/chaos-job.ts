// The job every chaos run executes: keyed counts and sums in 1 s tumbling windows into the KV results
// bucket. Small on purpose, so that its exact result can be folded from the input log by plain code
// (chaos/oracle.ts) and any difference is the cluster's fault, not the job's.
import { join } from 'node:path';
import { z } from 'zod';
import type { Random } from '../common/random.ts';
import { count, sum } from '../engine/aggregates/index.ts';
import { tumbling } from '../engine/assigners/tumbling.ts';
import { defineJob } from '../jobs/define-job.ts';

export const CHAOS_JOB = {
  name: 'chaos',
  partitions: 8,
  windowMs: 1_000,
  /** Events are produced with event time = now, in order; the bound only absorbs publish jitter. */
  boundMs: 200,
  /** Short, so that the last windows close soon after the producer stops (the drain). */
  idleTimeoutMs: 1_000,
  /** Generous: an event held up by a NATS fail-over still updates its window instead of being late. */
  latenessMs: 10_000,
  keys: 50,
  /** Share of records that are not valid events (dead-lettered with a reason). */
  dirtyShare: 0.01,
} as const;

/** The n-th record of a chaos run at event time `t`: mostly valid events, a few broken on purpose. */
export function chaosRecord(random: Random, t: number): string {
  const k = `k${Math.floor(random() * CHAOS_JOB.keys)}`;
  const v = Math.floor(random() * 100);
  if (random() >= CHAOS_JOB.dirtyShare) return JSON.stringify({ k, v, t });
  return random() < 0.5 ? `{"k":"${k}","v":${v},"t":` : JSON.stringify({ k, v: 'many', t });
}

/** How workers load it: the path of this module (it is not in the catalogue of user-facing jobs). */
export const CHAOS_JOB_MODULE = join(import.meta.dirname, 'chaos-job.ts');

export default defineJob({
  name: CHAOS_JOB.name,
  description: 'chaos testing: keyed count and sum of v in 1 s tumbling windows',
  source: { partitions: CHAOS_JOB.partitions },
  schema: z.strictObject({ k: z.string().min(1), v: z.number().int(), t: z.number() }),
  key: 'k',
  eventTime: 't',
  window: tumbling(CHAOS_JOB.windowMs),
  watermark: { maxOutOfOrderness: CHAOS_JOB.boundMs, idleTimeout: CHAOS_JOB.idleTimeoutMs },
  allowedLateness: CHAOS_JOB.latenessMs,
  aggregates: { count: count(), sum: sum('v') },
  generate: (random, index, startTime) => chaosRecord(random, startTime + index * 50),
});
