// Declarations of a job's live sources: an HTTP API polled at an interval, or a stream of
// server-sent events. A job lists them (`sources: [httpPollSource({...}), sseSource({...})]`); the
// leader assigns each to one worker, which runs it and checkpoints its position. Everything is
// checked here once, and every problem is reported as advice. Pure: no I/O.
import { parseDuration, type Duration } from '../common/duration.ts';
import { ShardflowError } from '../common/errors.ts';
import { SOURCE_NAME_PATTERN } from '../common/names.ts';

/** A record of a response or an event's data, once it is known to be a JSON object. */
export type SourceRecord = Record<string, unknown>;

/** Settings both kinds share. */
export interface CommonSourceInput {
  /** Unique within the job; names the source's checkpoint, metrics and dead letters. */
  name: string;
  /** Where it reads from (overridable per deployment: SHARDFLOW_SOURCE_URLS). */
  url: string;
  /** Extra request headers (an API key, a User-Agent: Wikimedia asks clients to name themselves). */
  headers?: Record<string, string>;
  /** Records this source has published and not yet seen acknowledged, at most. Default 256. */
  maxInFlight?: number;
  /** Dedupe keys remembered in the checkpoint, newest kept. Default 10,000 for HTTP polls (a
   *  checkpoint per page), 2,000 for SSE (a checkpoint a second; its position already stops replays). */
  maxSeenKeys?: number;
  /** Longest wait between two attempts after failures (Retry-After is honoured up to 10 minutes beyond
   *  it). Default 60s. */
  maxBackoff?: Duration;
  /** First wait after a failure, doubled at each further one. Default 500ms. */
  minBackoff?: Duration;
}

export interface HttpPollSourceInput extends CommonSourceInput {
  /** Time from the start of one poll to the next. Default 30s. */
  interval?: Duration;
  /** The array of records in a response body, e.g. `(body) => body.data`. */
  records: (body: unknown) => unknown;
  /** The event published for a record (default: the record itself). `body` is the whole response. */
  toEvent?: (record: SourceRecord, body: unknown) => unknown;
  /** The record's own identity (e.g. `${id}@${timestamp}`): a record seen before is not published
   *  again, and its message id derives from it. Undefined: derived from its place in the poll. */
  dedupeKey?: (record: SourceRecord, body: unknown) => string | undefined;
  /** Pages of one poll: the page number goes in query parameter `param`, from `first`, while `more`
   *  says so, at most `maxPages` pages. */
  pagination?: {
    param: string;
    first?: number;
    maxPages?: number;
    /** Also sets the page size: `{ param: 'page_size', size: 100 }`. */
    size?: { param: string; size: number };
    more: (body: unknown, page: number, records: number) => boolean;
  };
  /** Longest time of one request, headers and body. Default 10s. */
  timeout?: Duration;
  /** Larger response bodies are refused (the poll is tried again later). Default 8 MiB. */
  maxResponseBytes?: number;
}

export interface SseSourceInput extends CommonSourceInput {
  /** The event published for an event's JSON data (default: the data itself); undefined skips it
   *  (a canary, a type the job does not want). */
  toEvent?: (data: SourceRecord, id: string | undefined) => unknown;
  /** The event's own identity (default: its SSE `id`). */
  dedupeKey?: (data: SourceRecord, id: string | undefined) => string | undefined;
  /** No byte for this long (not even a comment) and the connection is taken as dead. Default 60s. */
  idleTimeout?: Duration;
  /** Longest wait for the response headers. Default 10s. */
  connectTimeout?: Duration;
  /** Larger events are skipped and dead-lettered with their first 4 KiB; the stream goes on. Default 1 MiB. */
  maxEventBytes?: number;
  /** ms between checkpoints of the position (the last event id acknowledged). Default 1s. */
  checkpointInterval?: Duration;
}

interface CommonSpec {
  readonly name: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly maxInFlight: number;
  readonly maxSeenKeys: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
}

export interface HttpPollSourceSpec extends CommonSpec {
  readonly kind: 'http-poll';
  readonly intervalMs: number;
  readonly records: (body: unknown) => unknown;
  readonly toEvent: (record: SourceRecord, body: unknown) => unknown;
  readonly dedupeKey: ((record: SourceRecord, body: unknown) => string | undefined) | undefined;
  readonly pagination: { param: string; first: number; maxPages: number; size?: { param: string; size: number }; more: (body: unknown, page: number, records: number) => boolean } | undefined;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

export interface SseSourceSpec extends CommonSpec {
  readonly kind: 'sse';
  readonly toEvent: (data: SourceRecord, id: string | undefined) => unknown;
  readonly dedupeKey: (data: SourceRecord, id: string | undefined) => string | undefined;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxEventBytes: number;
  readonly checkpointIntervalMs: number;
}

export type SourceSpec = HttpPollSourceSpec | SseSourceSpec;

const MiB = 1024 * 1024;

export function httpPollSource(input: HttpPollSourceInput): HttpPollSourceSpec {
  const problems: string[] = [];
  const common = commonSpec(input, problems, 10_000);
  const intervalMs = duration(input.interval ?? '30s', 'interval', problems, 100);
  const timeoutMs = duration(input.timeout ?? '10s', 'timeout', problems, 10);
  const maxResponseBytes = whole(input.maxResponseBytes ?? 8 * MiB, 'maxResponseBytes', 1024, problems);
  if (typeof input.records !== 'function') problems.push('records must be a function giving the array of records of a response, e.g. (body) => body.data');
  let pagination: HttpPollSourceSpec['pagination'];
  if (input.pagination) {
    const p = input.pagination;
    if (typeof p.param !== 'string' || p.param.length === 0) problems.push('pagination.param must name the page query parameter, e.g. "page"');
    if (typeof p.more !== 'function') problems.push('pagination.more must be a function (body, page, records) => boolean saying whether another page follows');
    const maxPages = whole(p.maxPages ?? 10, 'pagination.maxPages', 1, problems);
    pagination = { param: p.param, first: p.first ?? 1, maxPages, more: p.more, ...(p.size ? { size: p.size } : {}) };
  }
  fail(input.name, problems);
  return {
    kind: 'http-poll',
    ...common,
    intervalMs,
    records: input.records,
    toEvent: input.toEvent ?? ((record) => record),
    dedupeKey: input.dedupeKey,
    pagination,
    timeoutMs,
    maxResponseBytes,
  };
}

export function sseSource(input: SseSourceInput): SseSourceSpec {
  const problems: string[] = [];
  const common = commonSpec(input, problems, 2_000);
  const spec: SseSourceSpec = {
    kind: 'sse',
    ...common,
    toEvent: input.toEvent ?? ((data) => data),
    dedupeKey: input.dedupeKey ?? ((_, id) => id),
    idleTimeoutMs: duration(input.idleTimeout ?? '60s', 'idleTimeout', problems, 10),
    connectTimeoutMs: duration(input.connectTimeout ?? '10s', 'connectTimeout', problems, 10),
    maxEventBytes: whole(input.maxEventBytes ?? MiB, 'maxEventBytes', 64, problems),
    checkpointIntervalMs: duration(input.checkpointInterval ?? '1s', 'checkpointInterval', problems, 10),
  };
  fail(input.name, problems);
  return spec;
}

/** The same source reading from another URL (a deployment's override, a test's fixture server). */
export function withUrl<S extends SourceSpec>(spec: S, url: string): S {
  const problems: string[] = [];
  checkUrl(url, `the url of source ${spec.name}`, problems);
  if (problems.length > 0) throw new ShardflowError('CONFIG_INVALID', problems[0]!);
  return { ...spec, url };
}

/** Problems with a job's list of sources (names must be unique), as advice; none: []. */
export function sourceListProblems(sources: readonly SourceSpec[]): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const s of sources) {
    if (seen.has(s.name)) problems.push(`sources: two sources are named "${s.name}"; give each its own name`);
    seen.add(s.name);
  }
  if (sources.length > 64) problems.push(`sources: at most 64 sources per job, got ${sources.length}`);
  return problems;
}

function commonSpec(input: CommonSourceInput, problems: string[], defaultSeenKeys: number): CommonSpec {
  if (typeof input.name !== 'string' || !SOURCE_NAME_PATTERN.test(input.name)) {
    problems.push(`name "${String(input.name)}" must be 1-48 lowercase letters, digits or dashes, starting with a letter (e.g. "coincap")`);
  }
  checkUrl(input.url, 'url', problems);
  const minBackoffMs = duration(input.minBackoff ?? '500ms', 'minBackoff', problems, 1);
  const maxBackoffMs = duration(input.maxBackoff ?? '60s', 'maxBackoff', problems, 1);
  if (maxBackoffMs < minBackoffMs) problems.push(`maxBackoff (${maxBackoffMs} ms) must be at least minBackoff (${minBackoffMs} ms)`);
  return {
    name: input.name,
    url: input.url,
    headers: { ...(input.headers ?? {}) },
    maxInFlight: whole(input.maxInFlight ?? 256, 'maxInFlight', 1, problems),
    maxSeenKeys: whole(input.maxSeenKeys ?? defaultSeenKeys, 'maxSeenKeys', 1, problems),
    minBackoffMs,
    maxBackoffMs,
  };
}

function checkUrl(url: unknown, what: string, problems: string[]): void {
  let ok = false;
  try {
    ok = typeof url === 'string' && ['http:', 'https:'].includes(new URL(url).protocol);
  } catch {
    ok = false;
  }
  if (!ok) problems.push(`${what} ${JSON.stringify(url)} must be an http:// or https:// URL`);
}

function duration(value: Duration, what: string, problems: string[], minMs: number): number {
  try {
    const ms = parseDuration(value, what);
    if (ms < minMs) problems.push(`${what} must be at least ${minMs} ms, got ${ms} ms`);
    return ms;
  } catch (err) {
    problems.push((err as Error).message);
    return minMs;
  }
}

function whole(value: number, what: string, min: number, problems: string[]): number {
  if (Number.isInteger(value) && value >= min) return value;
  problems.push(`${what} must be a whole number >= ${min}, got ${String(value)}`);
  return min;
}

function fail(name: unknown, problems: string[]): void {
  if (problems.length > 0) throw new ShardflowError('JOB_INVALID', `source "${String(name)}" is invalid:\n  - ${problems.join('\n  - ')}`);
}
