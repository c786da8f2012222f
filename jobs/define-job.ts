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
import { sinkSpecSchema, type SinkSpec } from './sink-spec.ts';

export interface JobDefinition<E> {
  /** Lowercase letters, digits and dashes; names subjects, buckets and result keys. */
  name: string;
  description?: string;
  source?: {
    /** Number of partitions of the input stream (fixed for the job's life). Default 16. */
    partitions?: number;
  };
  /** Validates (and may coerce) each raw JSON event; events that fail go to the dead-letter stream. */
  schema: z.ZodType<E>;
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
  sink?: SinkSpec;
  limits?: {
    /** Larger raw events are dead-lettered. Default 1 MiB. */
    maxEventBytes?: number;
    /** Event times further ahead of the ingest time are dead-lettered. Default 1d. */
    maxFutureSkew?: Duration;
    /** Event times before this instant are dead-lettered. Default 2000-01-01T00:00:00Z. */
    minEventTime?: string | number;
  };
  /** Seeded generator of raw JSON events for demos, benchmarks and tests (dirty ones included). */
  generate?: (random: Random, index: number, startTime: number) => string;
}

export interface Job<E = unknown> {
  readonly name: string;
  readonly description: string;
  readonly partitions: number;
  readonly subject: string;
  readonly schema: z.ZodType<E>;
  readonly keyOf: (event: E) => string | number;
  readonly timeOf: (event: E) => unknown;
  readonly window: WindowSpec;
  readonly maxOutOfOrderness: number;
  readonly idleTimeout: number;
  readonly allowedLateness: number;
  readonly aggregates: Record<string, AnyAggregate<E>>;
  readonly sink: SinkSpec;
  readonly maxEventBytes: number;
  readonly maxFutureSkew: number;
  readonly minEventTime: number;
  readonly generate: ((random: Random, index: number, startTime: number) => string) | undefined;
}

const MiB = 1024 * 1024;

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
  const maxFutureSkew = attempt(() => parseDuration(def.limits?.maxFutureSkew ?? '1d', 'limits.maxFutureSkew'), 0);
  const minEventTime = typeof def.limits?.minEventTime === 'number' ? def.limits.minEventTime : Date.parse(def.limits?.minEventTime ?? '2000-01-01T00:00:00Z');
  if (!Number.isFinite(minEventTime)) problems.push(`limits.minEventTime "${String(def.limits?.minEventTime)}" is not an ISO-8601 instant or epoch ms`);
  const maxEventBytes = def.limits?.maxEventBytes ?? MiB;
  if (!Number.isInteger(maxEventBytes) || maxEventBytes < 64) problems.push(`limits.maxEventBytes must be a whole number >= 64, got ${maxEventBytes}`);
  const sink = sinkSpecSchema.safeParse(def.sink ?? { type: 'kv' });
  if (!sink.success) {
    problems.push(`sink: ${sink.error.issues.map((i) => `${i.path.join('.') || 'type'}: ${i.message}`).join('; ')}`);
  }
  const keyOf = keyFunction(def.key, problems);
  const timeOf = fieldOrFunction(def.eventTime, 'eventTime', problems);

  if (problems.length > 0) {
    throw new ShardflowError('JOB_INVALID', `job "${String(def.name)}" is invalid:\n  - ${problems.join('\n  - ')}`);
  }
  return {
    name: def.name,
    description: def.description ?? '',
    partitions,
    subject: ingestSubject(def.name),
    schema: def.schema,
    keyOf,
    timeOf,
    window: def.window,
    maxOutOfOrderness,
    idleTimeout,
    allowedLateness,
    aggregates: def.aggregates,
    sink: sink.data!,
    maxEventBytes,
    maxFutureSkew,
    minEventTime,
    generate: def.generate,
  };
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
