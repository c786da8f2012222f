// The job the cluster benchmarks run: keyed readings, 1 s tumbling windows, count/sum/avg.
import { z } from 'zod';
import { avg, count, sum } from '../engine/aggregates/index.ts';
import { tumbling } from '../engine/assigners/tumbling.ts';
import { defineJob } from '../jobs/define-job.ts';

export const benchJob = defineJob({
  name: 'bench',
  source: { partitions: 16 },
  schema: z.object({ k: z.string(), v: z.number(), t: z.number() }),
  key: 'k',
  eventTime: 't',
  window: tumbling('1s'),
  watermark: { maxOutOfOrderness: 0, idleTimeout: '2s' },
  aggregates: { count: count(), sum: sum('v'), avg: avg('v') },
});

export function benchEvent(i: number, keys: number, t: number): string {
  return `{"k":"key-${i % keys}","v":${i % 1000},"t":${t}}`;
}

/** Workers started as processes load the job from this module (`--job bench/bench-job.ts`). */
export default benchJob;
