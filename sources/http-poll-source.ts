// The loop of an HTTP polling source. Every `interval` it fetches the first page (conditionally:
// If-None-Match / If-Modified-Since, so an unchanged API costs a 304), then the next pages while the
// pagination says more follow. Each record of a page becomes one event, unless its dedupe key was
// published before.
//
// Exactly once, across kill -9 of the worker: the accepted records of a page are checkpointed first
// (write-ahead, with the advanced cursor), then published under message ids derived from their keys,
// then checkpointed as done. A source resumed from the first checkpoint publishes the same records
// again under the same ids (stored once within the ingest stream's 2-minute duplicate window); from
// the second, nothing is published twice because every key is in the checkpoint's seen keys.
//
// Failures (429, 5xx, timeouts, a body too large or not JSON) are waited out with exponential backoff
// that honours Retry-After; the cursor does not move, so nothing is skipped.
import { backoffDelay } from './backoff.ts';
import { fetchJson } from './http-fetch.ts';
import { SeenKeys } from './seen-keys.ts';
import type { SourceContext } from './source-context.ts';
import type { HttpPollSourceSpec, SourceRecord } from './source-spec.ts';
import type { PendingRecord } from './source-position.ts';

export async function runHttpPoll(spec: HttpPollSourceSpec, ctx: SourceContext): Promise<void> {
  const p = ctx.position;
  const seen = new SeenKeys(spec.maxSeenKeys, p.seen);
  const first = spec.pagination?.first ?? 1;
  let failures = 0;
  while (!ctx.signal.aborted) {
    if (p.pending.length > 0) {
      await publishPending(ctx, p.pending);
      continue;
    }
    if (p.page === null) {
      const wait = p.nextPollAt - Date.now();
      if (wait > 0) await ctx.sleep(wait);
      if (ctx.signal.aborted) return;
      p.page = first;
      p.pollStartedAt = Date.now();
    }
    const page = p.page;
    const result = await fetchJson({
      url: pageUrl(spec, page),
      headers: spec.headers,
      ...(page === first && p.etag ? { etag: p.etag } : {}),
      ...(page === first && p.lastModified ? { lastModified: p.lastModified } : {}),
      timeoutMs: spec.timeoutMs,
      maxBytes: spec.maxResponseBytes,
      signal: ctx.signal,
    });
    if (result.type === 'failed') {
      failures++;
      ctx.report(result.outcome, `${result.message} (page ${page}; attempt ${failures})`);
      await ctx.sleep(backoffDelay(spec, failures, result.retryAfterMs, ctx.random()));
      continue;
    }
    if (result.type === 'not-modified') {
      failures = 0;
      ctx.report('not-modified');
      p.page = null;
      p.nextPollAt = p.pollStartedAt + spec.intervalMs;
      await ctx.commit();
      continue;
    }
    let records: unknown;
    try {
      records = spec.records(result.body);
    } catch {
      records = undefined;
    }
    if (!Array.isArray(records)) {
      failures++;
      ctx.report('invalid', `the response of page ${page} holds no array where records() looks (attempt ${failures})`);
      await ctx.sleep(backoffDelay(spec, failures, undefined, ctx.random()));
      continue;
    }
    failures = 0;
    ctx.report('ok');
    const accepted = await acceptRecords(spec, ctx, seen, records, result.body, page);
    const more = spec.pagination !== undefined && page - first + 1 < spec.pagination.maxPages && records.length > 0 && callMore(spec, result.body, page, records.length);
    if (page === first) {
      // Validators of the first page only: a poll is skipped whole when it has not changed.
      p.etag = result.etag;
      p.lastModified = result.lastModified;
    }
    p.pending = accepted;
    p.seen = seen.toArray();
    p.page = more ? page + 1 : null;
    if (!more) p.nextPollAt = p.pollStartedAt + spec.intervalMs;
    await ctx.commit();
  }
}

/** The page's records as events, minus duplicates; records that cannot be events are dead-lettered. */
async function acceptRecords(spec: HttpPollSourceSpec, ctx: SourceContext, seen: SeenKeys, records: unknown[], body: unknown, page: number): Promise<PendingRecord[]> {
  const accepted: PendingRecord[] = [];
  for (const [index, record] of records.entries()) {
    // Records without an id of their own are known by their place in this poll.
    const placeKey = `${ctx.position.pollStartedAt}:${page}:${index}`;
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      await ctx.output.deadLetter('not-an-object', `record ${index} of page ${page} is ${record === null ? 'null' : Array.isArray(record) ? 'an array' : typeof record}, not a JSON object`, JSON.stringify(record) ?? String(record), placeKey);
      continue;
    }
    let key: string;
    let event: string | undefined;
    try {
      key = spec.dedupeKey?.(record as SourceRecord, body) ?? placeKey;
      if (seen.has(key)) {
        ctx.output.duplicate();
        continue;
      }
      // Serialized here: an event JSON cannot write (a BigInt, a cycle) is this record's problem.
      event = JSON.stringify(spec.toEvent(record as SourceRecord, body));
    } catch (err) {
      await ctx.output.deadLetter('source-map-failed', `record ${index} of page ${page}: ${(err as Error).message}`, safeJson(record), placeKey);
      continue;
    }
    if (event === undefined) continue;
    seen.add(key);
    accepted.push({ key, event });
  }
  return accepted;
}

async function publishPending(ctx: SourceContext, pending: readonly PendingRecord[]): Promise<void> {
  for (const r of pending) await ctx.output.publish(r.key, r.event);
  await ctx.output.flush();
  ctx.position.pending = [];
  await ctx.commit();
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function callMore(spec: HttpPollSourceSpec, body: unknown, page: number, records: number): boolean {
  try {
    return spec.pagination!.more(body, page, records) === true;
  } catch {
    return false;
  }
}

export function pageUrl(spec: HttpPollSourceSpec, page: number): string {
  if (!spec.pagination) return spec.url;
  const url = new URL(spec.url);
  url.searchParams.set(spec.pagination.param, String(page));
  if (spec.pagination.size) url.searchParams.set(spec.pagination.size.param, String(spec.pagination.size.size));
  return url.toString();
}
