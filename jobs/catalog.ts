// The jobs that ship with shardflow, by name, and jobs of your own, by the path of their module.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ShardflowError } from '../common/errors.ts';
import type { Job } from './define-job.ts';
import { cryptoPrices } from './examples/crypto-prices.ts';
import { nexmarkQ5 } from './examples/nexmark-q5.ts';
import { openfoodBrands } from './examples/openfood-brands.ts';
import { openfoodNutriscore } from './examples/openfood-nutriscore.ts';
import { stationSentiment } from './examples/station-sentiment.ts';
import { supportTickets } from './examples/support-tickets.ts';
import { userActivity } from './examples/user-activity.ts';
import { wikimediaEdits } from './examples/wikimedia-edits.ts';

// One per seed pipeline (seed 001 needs two: see openfood-nutriscore.ts; seed 002's Wikimedia input
// is wikimedia-edits, fed by its own live source), then Nexmark's q5, to set
// the cluster beside the figures other engines publish.
const SHIPPED: readonly Job<never>[] = [stationSentiment, openfoodNutriscore, openfoodBrands, userActivity, cryptoPrices, supportTickets, wikimediaEdits, nexmarkQ5] as unknown as Job<never>[];

const CATALOG: ReadonlyMap<string, Job<never>> = new Map(SHIPPED.map((job) => [job.name, job]));

export function jobNames(): string[] {
  return [...CATALOG.keys()];
}

export function getJob(name: string): Job<unknown> {
  const job = CATALOG.get(name);
  if (!job) {
    throw new ShardflowError('JOB_UNKNOWN', `there is no job named "${name}"; available: ${jobNames().join(', ')} (or give the path of a module whose default export is a defineJob(...))`);
  }
  return job as unknown as Job<unknown>;
}

/** A shipped job by name, or the default export of a module (`./my-job.ts`, `/abs/job.js`). */
export async function loadJob(nameOrPath: string): Promise<Job<unknown>> {
  if (!/[/\\]|\.(ts|js|mjs)$/.test(nameOrPath)) return getJob(nameOrPath);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(nameOrPath)).href)) as { default?: unknown };
  } catch (cause) {
    throw new ShardflowError('JOB_UNKNOWN', `cannot load the job module ${nameOrPath}: ${(cause as Error).message}`, { cause });
  }
  const job = mod.default as Partial<Job<unknown>> | undefined;
  if (!job || typeof job.name !== 'string' || typeof job.keyOf !== 'function') {
    throw new ShardflowError('JOB_INVALID', `${nameOrPath} must export default defineJob({ ... })`);
  }
  return { ...(job as Job<unknown>), module: resolve(nameOrPath) };
}
