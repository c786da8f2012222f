// The jobs that ship with shardflow, by name.
import { ShardflowError } from '../common/errors.ts';
import type { Job } from './define-job.ts';
import { stationSentiment } from './examples/station-sentiment.ts';

const CATALOG: ReadonlyMap<string, Job<never>> = new Map<string, Job<never>>([[stationSentiment.name, stationSentiment as unknown as Job<never>]]);

export function jobNames(): string[] {
  return [...CATALOG.keys()];
}

export function getJob(name: string): Job<unknown> {
  const job = CATALOG.get(name);
  if (!job) {
    throw new ShardflowError('JOB_UNKNOWN', `there is no job named "${name}"; available: ${jobNames().join(', ')}`);
  }
  return job as unknown as Job<unknown>;
}
