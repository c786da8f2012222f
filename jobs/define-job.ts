// A job is a typed definition: where its events come from, how they are validated, keyed and timed,
// how they are windowed and aggregated, and where results go. `defineJob` checks the whole definition
// once and reports every problem at the same time, as advice.
import type { z } from 'zod';

import { parseDuration, type Duration } from '../common/duration.ts';
import { ShardflowError } from '../common/errors.ts';
import { ingestSubject, JOB_NAME_PATTERN } from '../common/names.ts';
import type { Random } from '../common/random.ts';
import type { AnyAggregate } from '../engine/aggregate.ts';
import type { WindowSpec } from '../engine/window.ts';
import { sinkSpecSchema, type SinkSpec, type SinkSpecInput } from '../common/sink-spec.ts';
import { sourceListProblems, type SourceSpec } from '../sources/source-spec.ts';

export interface JobDefinition<E> {
  /** Lowercase letters, digits and dashes; names subjects, buckets and result keys. */
  name: string;
  description?: string;
  source?: {
    /** Number of partitions of the input stream (fixed for the job's life). Default 16. */
    partitions?: number;
    /** Router shards that move plain clients' events from the ingest subject to the partitions, each
     *  on the owner of the partition of the same number. More spread the routing over more workers
     *  (each shard reads the whole ingest stream and publishes its share). Default 2, at most
     *  `partitions`. */
    routers?: number;
  };
  /** Validates (and may coerce) each raw JSON event; events that fail go to the dead-letter stream. */
  schema: z.ZodType<E>;
  /** How events are encoded. `json` (default): one UTF-8 JSON document. `avro`: the Confluent wire
   *  format (magic byte 0, 4-byte schema id, Avro binary), decoded with the schema the id names in the
   *  cluster's schema registry, then checked by `schema` like JSON events (a null field counts as
   *  missing). */
  format?: JobFormat;
  /** Avro settings (with `format: 'avro'`). */
  avro?: {
    /** Registry subject of the job's value schema, which `shardflow produce --format avro` encodes
     *  with. Default `<name>-value` (Confluent's TopicNameStrategy for a topic named like the job). */
    subject?: string;
    /** Also take JSON events (a payload that does not start with the magic byte 0), so producers can
     *  move to Avro one at a time. Default false: such a payload is dead-lettered `malformed-avro`. */
    acceptJson?: boolean;
    /** The Avro schema the job's producers write (a JSON object), for `shardflow schema register
     *  --job` and `shardflow produce --format avro`; what decodes an event is always the schema its id
     *  names in the registry. */
    schema?: object;
  };
  /** The grouping key: a field, several fields (joined with "|"), or a function. */
  key: (keyof E & string) | readonly (keyof E & string)[] | ((event: E) => string | number);
  /** Event time: a field or function giving epoch milliseconds, an ISO-8601 string or a Date. */
  eventTime: (keyof E & string) | ((event: E) => unknown);
  window: WindowSpec;
  watermark?: {
    /** How far behind the latest event time an event may arrive and still be on time. Default 0. */
    maxOutOfOrderness?: Duration;
    /** Quiet time after which a partition stops holding back the watermark. Default 30s. */
    idleTimeout?: Duration;
  };
  /** How long after a window fired late events still update it. Default 0. */
  allowedLateness?: Duration;
  /** Named aggregates computed per key and window. */
  aggregates: Record<string, AnyAggregate<E>>;
  /** Where results go. Default: the cluster's KV results bucket. */
  sink?: SinkSpecInput;
  limits?: Partial<JobLimitsInput>;
  /** How much of each stream of the job is kept (oldest messages are discarded first). */
  retention?: Partial<Record<keyof JobRetention, Partial<StreamRetentionInput>>>;
  /** Seeded generator of raw JSON events for demos, benchmarks and tests (dirty ones included). */
  generate?: (random: Random, index: number, startTime: number) => string;
  /** Live inputs run inside the cluster, each by one worker at a time (sources/): made with
   *  httpPollSource(...) or sseSource(...). Default none: events come from producers. */
  sources?: readonly SourceSpec[];
}

/** What one event, and one partition's state, may take. Events beyond a limit are dead-lettered with
 *  the limit's reason; the partition goes on. */
export interface JobLimitsInput {
  /** Larger raw events are dead-lettered (`oversized`). Default 1 MiB. */
  maxEventBytes: number;
  /** Event times further ahead of the ingest time are dead-lettered (`event-time-out-of-range`).
   *  Default 5m: one event from a broken clock must not push the watermark hours ahead and make every
   *  later event late. */
  maxFutureSkew: Duration;
  /** Event times before this instant are dead-lettered. Default 2000-01-01T00:00:00Z. */
  minEventTime: string | number;
  /** Longest key, in UTF-8 bytes (`key-too-long`). Default 512. */
  maxKeyBytes: number;
  /** Most keys holding window state in one partition (`state-limit` for an event of a new key). Default 100,000. */
  maxKeys: number;
  /** Most open (key, pane) entries in one partition (`state-limit`). Default 1,000,000. */
  maxOpenWindows: number;
  /** Estimated bytes of one partition's window state (`state-limit` for an event that would add to
   *  it). Default 64 MiB. */
  maxStateBytes: number;
}

export interface JobLimits {
  readonly maxEventBytes: number;
  readonly maxFutureSkew: number;
  readonly minEventTime: number;
  readonly maxKeyBytes: number;
  readonly maxKeys: number;
  readonly maxOpenWindows: number;
  readonly maxStateBytes: number;
}

/** Limits of one stream: the oldest messages are discarded past either. */
export interface StreamRetentionInput {
  maxAge: Duration;
  maxBytes: number;
}

export interface StreamRetention {
  /** ms. */
  readonly maxAge: number;
  readonly maxBytes: number;
}

export interface JobRetention {
  /** The partitioned input (what replays and compaction read). Default 7d / 1 GiB. */
  readonly input: StreamRetention;
  /** Plain clients' events before routing. Default 1d / 256 MiB. */
  readonly ingest: StreamRetention;
  /** Dead letters. Default 7d / 64 MiB. */
  readonly deadLetters: StreamRetention;
  /** Late events. Default 7d / 64 MiB. */
  readonly late: StreamRetention;
}

const MiB = 1024 * 1024;
const DAY = 86_400_000;

export const DEFAULT_RETENTION: JobRetention = {
  input: { maxAge: 7 * DAY, maxBytes: 1024 * MiB },
  ingest: { maxAge: DAY, maxBytes: 256 * MiB },
  deadLetters: { maxAge: 7 * DAY, maxBytes: 64 * MiB },
  late: { maxAge: 7 * DAY, maxBytes: 64 * MiB },
};

export const DEFAULT_LIMITS: JobLimitsInput = {
  maxEventBytes: MiB,
  maxFutureSkew: '5m',
  minEventTime: '2000-01-01T00:00:00Z',
  maxKeyBytes: 512,
  maxKeys: 100_000,
  maxOpenWindows: 1_000_000,
  maxStateBytes: 64 * MiB,
};

export type JobFormat = 'json' | 'avro';

export interface JobAvro {
  readonly subject: string;
  readonly acceptJson: boolean;
  readonly schema: object | undefined;
}

export interface Job<E = unknown> {
  readonly name: string;
  readonly description: string;
  readonly partitions: number;
  readonly routers: number;
  readonly subject: string;
  readonly schema: z.ZodType<E>;
  readonly format: JobFormat;
  /** Set when `format` is `avro`. */
  readonly avro: JobAvro | undefined;
  readonly keyOf: (event: E) => string | number;
  readonly timeOf: (event: E) => unknown;
  readonly window: WindowSpec;
  readonly maxOutOfOrderness: number;
  readonly idleTimeout: number;
  readonly allowedLateness: number;
  readonly aggregates: Record<string, AnyAggregate<E>>;
  readonly sink: SinkSpec;
  readonly limits: JobLimits;
  readonly retention: JobRetention;
  readonly generate: ((random: Random, index: number, startTime: number) => string) | undefined;
  /** Live sources of the job (none: fed by producers only). */
  readonly sources: readonly SourceSpec[];
  /** The file the job was loaded from (jobs/catalog.ts loadJob); undefined for a shipped job. */
  readonly module?: string;
}

/** Checks and normalizes a job definition; the event type is the output type of its schema. */
export function defineJob<S extends z.ZodType>(def: JobDefinition<z.output<S>> & { schema: S }): Job<z.output<S>> {
  type E = z.output<S>;
  const problems: string[] = [];
  const attempt = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
      return fallback;
    }
  };

  if (typeof def.name !== 'string' || !JOB_NAME_PATTERN.test(def.name)) {
    problems.push(`name "${String(def.name)}" must be 1-48 lowercase letters, digits or dashes, starting with a letter (e.g. "station-sentiment")`);
  }
  const partitions = def.source?.partitions ?? 16;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) {
    problems.push(`source.partitions must be a whole number from 1 to 1024, got ${partitions}`);
  }
  const routers = def.source?.routers ?? Math.min(2, partitions);
  if (!Number.isInteger(routers) || routers < 1 || routers > partitions) {
    problems.push(`source.routers must be a whole number from 1 to source.partitions (${partitions}), got ${routers}`);
  }
  if (!def.schema || typeof (def.schema as { safeParse?: unknown }).safeParse !== 'function') {
    problems.push('schema must be a zod schema, e.g. z.object({ ... })');
  }
  if (!def.window || !['tumbling', 'sliding', 'session'].includes((def.window as WindowSpec).kind)) {
    problems.push('window must be made with tumbling(...), sliding(...) or session(...)');
  }
  const names = Object.keys(def.aggregates ?? {});
  if (names.length === 0) problems.push('aggregates must name at least one aggregate, e.g. { events: count() }');
  for (const name of names) {
    const agg = def.aggregates[name] as Partial<AnyAggregate> | undefined;
    if (!agg || ['create', 'add', 'merge', 'result'].some((m) => typeof agg[m as keyof AnyAggregate] !== 'function')) {
      problems.push(`aggregate "${name}" must have create, add, merge and result functions`);
    }
  }
  const maxOutOfOrderness = attempt(() => parseDuration(def.watermark?.maxOutOfOrderness ?? 0, 'watermark.maxOutOfOrderness'), 0);
  const idleTimeout = attempt(() => parseDuration(def.watermark?.idleTimeout ?? '30s', 'watermark.idleTimeout'), 0);
  const allowedLateness = attempt(() => parseDuration(def.allowedLateness ?? 0, 'allowedLateness'), 0);
  const limits = jobLimits({ ...DEFAULT_LIMITS, ...def.limits }, problems);
  const retention = jobRetention(def.retention ?? {}, problems);
  const sink = sinkSpecSchema.safeParse(def.sink ?? { type: 'kv' });
  if (!sink.success) {
    problems.push(`sink: ${sink.error.issues.map((i) => `${i.path.join('.') || 'type'}: ${i.message}`).join('; ')}`);
  }
  const format = def.format ?? 'json';
  if (format !== 'json' && format !== 'avro') problems.push(`format must be 'json' or 'avro', got ${JSON.stringify(format)}`);
  if (def.avro !== undefined && format !== 'avro') problems.push("avro settings need format: 'avro'");
  const avroSubject = def.avro?.subject ?? `${def.name}-value`;
  if (format === 'avro' && !/^[A-Za-z0-9._-]{1,255}$/.test(avroSubject)) problems.push(`avro.subject ${JSON.stringify(avroSubject)} must be 1-255 letters, digits, ".", "_" or "-"`);
  const keyOf = keyFunction(def.key, problems);
  const timeOf = fieldOrFunction(def.eventTime, 'eventTime', problems);
  const sources = def.sources ?? [];
  problems.push(...sourceListProblems(sources));

  if (problems.length > 0) {
    throw new ShardflowError('JOB_INVALID', `job "${String(def.name)}" is invalid:\n  - ${problems.join('\n  - ')}`);
  }
  return {
    name: def.name,
    description: def.description ?? '',
    partitions,
    routers,
    subject: ingestSubject(def.name),
    schema: def.schema,
    format,
    avro: format === 'avro' ? { subject: avroSubject, acceptJson: def.avro?.acceptJson ?? false, schema: def.avro?.schema } : undefined,
    keyOf,
    timeOf,
    window: def.window,
    maxOutOfOrderness,
    idleTimeout,
    allowedLateness,
    aggregates: def.aggregates,
    sink: sink.data!,
    limits,
    retention,
    generate: def.generate,
    sources,
  };
}

function jobLimits(input: JobLimitsInput, problems: string[]): JobLimits {
  const whole = (name: keyof JobLimitsInput, min: number): number => {
    const value = input[name];
    if (typeof value === 'number' && Number.isInteger(value) && value >= min) return value;
    problems.push(`limits.${name} must be a whole number >= ${min}, got ${String(value)}`);
    return min;
  };
  let maxFutureSkew = 0;
  try {
    maxFutureSkew = parseDuration(input.maxFutureSkew, 'limits.maxFutureSkew');
  } catch (err) {
    problems.push((err as Error).message);
  }
  const minEventTime = typeof input.minEventTime === 'number' ? input.minEventTime : Date.parse(input.minEventTime);
  if (!Number.isFinite(minEventTime)) problems.push(`limits.minEventTime "${String(input.minEventTime)}" is not an ISO-8601 instant or epoch ms`);
  return {
    maxEventBytes: whole('maxEventBytes', 64),
    maxFutureSkew,
    minEventTime,
    maxKeyBytes: whole('maxKeyBytes', 1),
    maxKeys: whole('maxKeys', 1),
    maxOpenWindows: whole('maxOpenWindows', 1),
    maxStateBytes: whole('maxStateBytes', 1024),
  };
}

function jobRetention(input: NonNullable<JobDefinition<unknown>['retention']>, problems: string[]): JobRetention {
  const out: Record<string, StreamRetention> = {};
  for (const stream of Object.keys(DEFAULT_RETENTION) as (keyof JobRetention)[]) {
    const given = input[stream] ?? {};
    const fallback = DEFAULT_RETENTION[stream];
    let maxAge = fallback.maxAge;
    try {
      maxAge = parseDuration(given.maxAge ?? fallback.maxAge, `retention.${stream}.maxAge`);
    } catch (err) {
      problems.push((err as Error).message);
    }
    const maxBytes = given.maxBytes ?? fallback.maxBytes;
    if (!Number.isInteger(maxBytes) || maxBytes < 1024 * 1024) problems.push(`retention.${stream}.maxBytes must be a whole number of bytes >= 1 MiB, got ${String(maxBytes)}`);
    if (maxAge < 60_000) problems.push(`retention.${stream}.maxAge must be at least 1m, got ${maxAge} ms`);
    out[stream] = { maxAge, maxBytes };
  }
  for (const stream of Object.keys(input)) if (!(stream in DEFAULT_RETENTION)) problems.push(`retention.${stream} is not a stream of the job; use ${Object.keys(DEFAULT_RETENTION).join(', ')}`);
  return out as unknown as JobRetention;
}

function keyFunction<E>(key: JobDefinition<E>['key'], problems: string[]): (event: E) => string | number {
  if (typeof key === 'function') return key;
  if (typeof key === 'string') return (e) => (e as Record<string, string | number>)[key]!;
  if (Array.isArray(key) && key.length > 0 && key.every((k) => typeof k === 'string')) {
    const fields = key as readonly string[];
    return (e) => fields.map((f) => String((e as Record<string, unknown>)[f])).join('|');
  }
  problems.push('key must be a field name, a list of field names, or a function of the event');
  return () => '';
}

function fieldOrFunction<E>(value: unknown, what: string, problems: string[]): (event: E) => unknown {
  if (typeof value === 'function') return value as (event: E) => unknown;
  if (typeof value === 'string' && value.length > 0) return (e) => (e as Record<string, unknown>)[value];
  problems.push(`${what} must be a field name or a function of the event`);
  return () => undefined;
}
