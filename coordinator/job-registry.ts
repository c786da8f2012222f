// The jobs a cluster runs, by name, in the coordination bucket: every worker registers the jobs it
// runs when it starts (`jobs.<name>`), so `results`, `status` and the console find a user's job
// without being told its module again. Pausing a job is a key of its own (`paused.<name>`), written
// by an admin (the console, `shardflow pause`) and read by the leader, which then assigns the job's
// partitions to nobody: the workers checkpoint and release them, and input waits in the stream.
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import { JOB_NAME_PATTERN, jobKey, pausedKey } from '../common/names.ts';
import { describeWindow } from '../engine/window.ts';
import type { Job } from '../jobs/define-job.ts';

/** `jobs.<name>` — written by every worker that runs the job (the same record), read by anyone. */
export interface JobRecord {
  name: string;
  description: string;
  partitions: number;
  /** The module file it was loaded from; undefined for a job that ships with shardflow. */
  module?: string;
  window: string;
  aggregates: string[];
  /** Where results go, without secrets: a URL is kept as scheme, host, port and path only (no user,
   *  password or query, where a password may hide). */
  sink: { type: string; table?: string; dir?: string; database?: string; collection?: string; url?: string };
  registeredAt: number;
}

/** `paused.<name>` — who paused the job and when. */
export interface PauseRecord {
  by: string;
  at: number;
}

const jobRecordSchema = z.object({
  name: z.string().regex(JOB_NAME_PATTERN),
  description: z.string().max(2000),
  partitions: z.number().int().min(1),
  module: z.string().max(4096).optional(),
  window: z.string().max(200),
  aggregates: z.array(z.string().max(200)).max(200),
  sink: z.object({ type: z.string().max(20) }).catchall(z.string().max(4096)),
  registeredAt: z.number().finite(),
});

export function jobRecord(job: Job<unknown>, now: number): JobRecord {
  const sink: JobRecord['sink'] = { type: job.sink.type };
  for (const field of ['table', 'dir', 'database', 'collection', 'url'] as const) {
    const value = (job.sink as Record<string, unknown>)[field];
    if (typeof value === 'string') sink[field] = field === 'url' ? urlLocation(value) : value;
  }
  return {
    name: job.name,
    description: job.description,
    partitions: job.partitions,
    ...(job.module ? { module: job.module } : {}),
    window: describeWindow(job.window),
    aggregates: Object.keys(job.aggregates),
    sink,
    registeredAt: now,
  };
}

/** `postgres://user:pw@db:5432/test?sslpassword=x` -> `postgres://db:5432/test`. */
export function urlLocation(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

export async function registerJob(kv: KV, job: Job<unknown>): Promise<void> {
  await kv.put(jobKey(job.name), JSON.stringify(jobRecord(job, Date.now())));
}

export async function readJob(kv: KV, name: string): Promise<JobRecord | undefined> {
  if (!JOB_NAME_PATTERN.test(name)) return undefined;
  const e = await kv.get(jobKey(name));
  return e?.operation === 'PUT' ? parseJobRecord(e.string()) : undefined;
}

/** A stored `jobs.<name>` value, or undefined for anything that is not one. */
export function parseJobRecord(text: string): JobRecord | undefined {
  try {
    const parsed = jobRecordSchema.safeParse(JSON.parse(text));
    return parsed.success ? (parsed.data as JobRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** A stored `paused.<name>` value (an unreadable one still pauses the job). */
export function parsePauseRecord(text: string): PauseRecord {
  try {
    return JSON.parse(text) as PauseRecord;
  } catch {
    return { by: 'unknown', at: 0 };
  }
}

export async function setPaused(kv: KV, job: string, paused: boolean, by: string): Promise<void> {
  if (paused) await kv.put(pausedKey(job), JSON.stringify({ by, at: Date.now() } satisfies PauseRecord));
  else await kv.delete(pausedKey(job));
}

/** The jobs paused now, with who paused them. */
export async function pausedJobs(kv: KV): Promise<Map<string, PauseRecord>> {
  const out = new Map<string, PauseRecord>();
  for await (const key of await kv.keys('paused.*')) {
    const e = await kv.get(key);
    if (e?.operation === 'PUT') out.set(key.slice('paused.'.length), parsePauseRecord(e.string()));
  }
  return out;
}
