// The raw events a command works on: the lines of an NDJSON file, or the job's seeded generator.
import { readFileSync } from 'node:fs';
import { ShardflowError } from '../common/errors.ts';
import { seededRandom } from '../common/random.ts';
import type { Job } from '../jobs/define-job.ts';

export interface RawEventSource {
  /** NDJSON file; when absent, the job's generator makes `events` events. */
  input?: string;
  events: number;
  seed: number;
  /** Event time of the first generated event (default: so that the last one is about now). */
  start?: number;
}

export function loadRawEvents(job: Job<unknown>, source: RawEventSource): string[] {
  if (source.input) return readFileSync(source.input, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const generate = job.generate;
  if (!generate) throw new ShardflowError('JOB_INVALID', `job ${job.name} has no generator; pass --input FILE with NDJSON events`);
  const random = seededRandom(source.seed);
  const start = source.start ?? Date.now() - source.events * 50;
  return Array.from({ length: source.events }, (_, i) => generate(random, i, start));
}
