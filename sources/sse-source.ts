// The loop of a server-sent events source (Wikimedia EventStreams and the like). It connects with
// Last-Event-ID set to the last event whose publication is acknowledged, so the server replays what
// followed; parses the stream with eventsource-parser (an event counts only once its closing blank
// line arrived: one cut off by a disconnect is read again after the reconnect); publishes each event
// under a message id derived from its own id; and checkpoints the last event id every
// checkpointInterval, after the acknowledgements of everything before it.
//
// Exactly once across kill -9: events published after the last checkpoint are sent again by the
// server after the resume and carry the same message ids (stored once within the ingest stream's
// 2-minute duplicate window); events before it are never asked for again, and their keys are in the
// checkpoint's seen keys should the server repeat one.
//
// Reconnects use exponential backoff (reset once events flow) that honours Retry-After and the
// stream's own `retry:` field; a connection silent for idleTimeout (not even a comment) is dropped.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { backoffDelay, parseRetryAfter } from './backoff.ts';
import { SeenKeys } from './seen-keys.ts';
import type { RequestOutcome, SourceContext } from './source-context.ts';
import type { SourceRecord, SseSourceSpec } from './source-spec.ts';
import { createHash } from 'node:crypto';

interface ConnectionEnd {
  /** Events read on this connection. */
  events: number;
  outcome: RequestOutcome;
  message?: string;
  retryAfterMs?: number;
}

export async function runSse(spec: SseSourceSpec, ctx: SourceContext): Promise<void> {
  const seen = new SeenKeys(spec.maxSeenKeys, ctx.position.seen);
  const state = { lastId: ctx.position.lastEventId, retryMs: undefined as number | undefined, committedAt: Date.now() };
  let failures = 0;
  try {
    while (!ctx.signal.aborted) {
      const end = await readConnection(spec, ctx, seen, state);
      await checkpoint(ctx, seen, state);
      if (ctx.signal.aborted) return;
      failures = end.events > 0 ? 1 : failures + 1;
      ctx.report(end.outcome, end.outcome === 'ok' ? undefined : `${end.message ?? end.outcome} (attempt ${failures})`);
      await ctx.sleep(backoffDelay(spec, failures, end.retryAfterMs ?? state.retryMs, ctx.random()));
    }
  } finally {
    // Stopped (released, shutting down): what was published is recorded, so the next owner starts
    // right after it. A fenced source's commit throws, which is what must happen.
    if (ctx.signal.aborted) await checkpoint(ctx, seen, state);
  }
}

/** Waits for every event handed over so far, then records the last one's id. */
async function checkpoint(ctx: SourceContext, seen: SeenKeys, state: { lastId: string | undefined; committedAt: number }): Promise<void> {
  await ctx.output.flush();
  // Nothing new since the last one (a quiet stream, comments only): no write.
  if (state.lastId === ctx.position.lastEventId) {
    state.committedAt = Date.now();
    return;
  }
  if (state.lastId !== undefined) ctx.position.lastEventId = state.lastId;
  ctx.position.seen = seen.toArray();
  await ctx.commit();
  state.committedAt = Date.now();
}

async function readConnection(
  spec: SseSourceSpec,
  ctx: SourceContext,
  seen: SeenKeys,
  state: { lastId: string | undefined; retryMs: number | undefined; committedAt: number },
): Promise<ConnectionEnd> {
  const connection = new AbortController();
  const stop = () => connection.abort();
  ctx.signal.addEventListener('abort', stop, { once: true });
  let why: 'connect-timeout' | 'idle' | undefined;
  let timer = setTimeout(() => ((why = 'connect-timeout'), connection.abort()), spec.connectTimeoutMs);
  let events = 0;
  try {
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache', ...spec.headers };
    if (state.lastId !== undefined) headers['last-event-id'] = state.lastId;
    const res = await fetch(spec.url, { headers, signal: connection.signal });
    if (res.status !== 200 || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      await res.body?.cancel().catch(() => {});
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), Date.now());
      const outcome = res.status === 429 ? 'throttled' : res.status >= 500 ? 'server-error' : res.status === 200 ? 'invalid' : 'client-error';
      return { events, outcome, message: res.status === 200 ? `the response is ${res.headers.get('content-type') ?? 'untyped'}, not text/event-stream` : `HTTP ${res.status}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    }
    const armIdle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => ((why = 'idle'), connection.abort()), spec.idleTimeoutMs);
    };
    armIdle();
    const queue: EventSourceMessage[] = [];
    let overflow = false;
    const parser = createParser({
      onEvent: (m) => queue.push(m),
      onRetry: (ms) => (state.retryMs = ms),
      onError: (e) => {
        if (e.type === 'max-buffer-size-exceeded') overflow = true;
      },
      maxBufferSize: spec.maxEventBytes,
    });
    const decoder = new TextDecoder();
    const reader = res.body!.getReader();
    // An event larger than maxEventBytes is skipped, not waited on: the text is fed one event at a
    // time (cut after each blank line), so when the parser gives up on one, the skipped text is that
    // event alone; what follows its closing blank line is parsed afresh.
    let skipping: { head: string; tail: string } | undefined;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      armIdle();
      const text = decoder.decode(value, { stream: true });
      let at = 0;
      if (skipping) {
        // The oversized event ends at the first blank line, which may straddle two chunks.
        const joined = skipping.tail + text;
        const end = blankLineEnd(joined, 0);
        if (end < 0) {
          skipping.tail = joined.slice(-3);
          continue;
        }
        at = end - skipping.tail.length;
        await skipOversized(spec, ctx, state, skipping.head);
        skipping = undefined;
        parser.reset();
      }
      while (at < text.length) {
        const end = blankLineEnd(text, at);
        const piece = text.slice(at, end < 0 ? text.length : end);
        at = end < 0 ? text.length : end;
        parser.feed(piece);
        // Handled at once, so that a skipped event is known by the id of the one before it.
        for (const m of queue.splice(0)) {
          await handle(spec, ctx, seen, state, m);
          events++;
        }
        if (!overflow) continue;
        overflow = false;
        if (end >= 0) {
          await skipOversized(spec, ctx, state, piece.slice(0, 4_096));
          parser.reset();
        } else {
          skipping = { head: piece.slice(0, 4_096), tail: piece.slice(-3) };
        }
      }
      if (Date.now() - state.committedAt >= spec.checkpointIntervalMs) await checkpoint(ctx, seen, state);
    }
    return { events, outcome: 'ok', message: 'the server ended the stream' };
  } catch (err) {
    if (ctx.signal.aborted) return { events, outcome: 'ok' };
    if (why === 'connect-timeout') return { events, outcome: 'timeout', message: `no response within connectTimeout (${spec.connectTimeoutMs} ms)` };
    if (why === 'idle') return { events, outcome: 'timeout', message: `nothing received for idleTimeout (${spec.idleTimeoutMs} ms)` };
    if ((err as { code?: string }).code === 'PARTITION_FENCED' || (err as { name?: string }).name === 'ShardflowError') throw err;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { events, outcome: 'network', message: `connection failed: ${cause?.code ?? cause?.message ?? (err as Error).message}` };
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener('abort', stop);
  }
}

const BLANK_LINE = /\r?\n\r?\n|\r\r/g;

/** Index just after the first blank line (an event's end) in `text` from `from`, or -1. */
function blankLineEnd(text: string, from: number): number {
  BLANK_LINE.lastIndex = from;
  const match = BLANK_LINE.exec(text);
  return match ? match.index + match[0].length : -1;
}

/** An event over maxEventBytes: dead-lettered with its first bytes (its id, if any, is lost with it:
 *  the position stays at the event before, and a replay skips it again). */
async function skipOversized(spec: SseSourceSpec, ctx: SourceContext, state: { lastId: string | undefined }, head: string): Promise<void> {
  await ctx.output.deadLetter('oversized', `an event larger than maxEventBytes (${spec.maxEventBytes}) was skipped; its first ${head.length} characters are kept`, head, `${state.lastId ?? ''}|oversized|${digest(head)}`);
}

async function handle(spec: SseSourceSpec, ctx: SourceContext, seen: SeenKeys, state: { lastId: string | undefined }, m: EventSourceMessage): Promise<void> {
  // As in EventSource: an event without an id keeps the last one.
  const id = m.id ?? state.lastId;
  // Only events without an id of their own need it: hashing every event's data would cost more than
  // the rest of its handling.
  let fallback: string | undefined;
  const fallbackKey = () => (fallback ??= `${id ?? ''}|${digest(m.data)}`);
  if (Buffer.byteLength(m.data) > spec.maxEventBytes) {
    await ctx.output.deadLetter('oversized', `the event is larger than maxEventBytes (${spec.maxEventBytes})`, m.data, fallbackKey());
  } else {
    let data: unknown;
    let parsed = true;
    try {
      data = JSON.parse(m.data);
    } catch (err) {
      parsed = false;
      await ctx.output.deadLetter('malformed-json', `the event's data is not JSON: ${(err as Error).message}`, m.data, fallbackKey());
    }
    if (parsed && (typeof data !== 'object' || data === null || Array.isArray(data))) {
      await ctx.output.deadLetter('not-an-object', `the event's data is ${data === null ? 'null' : Array.isArray(data) ? 'an array' : typeof data}, not a JSON object`, m.data, fallbackKey());
    } else if (parsed) {
      await publishEvent(spec, ctx, seen, data as SourceRecord, m.id, fallbackKey);
    }
  }
  state.lastId = id;
}

async function publishEvent(spec: SseSourceSpec, ctx: SourceContext, seen: SeenKeys, data: SourceRecord, id: string | undefined, fallbackKey: () => string): Promise<void> {
  let key: string;
  let event: string | undefined;
  try {
    key = spec.dedupeKey(data, id) ?? fallbackKey();
    if (seen.has(key)) {
      ctx.output.duplicate();
      return;
    }
    // Serialized here: an event JSON cannot write (a BigInt, a cycle) is this event's problem.
    event = JSON.stringify(spec.toEvent(data, id));
  } catch (err) {
    await ctx.output.deadLetter('source-map-failed', `toEvent failed: ${(err as Error).message}`, JSON.stringify(data), fallbackKey());
    return;
  }
  if (event === undefined) return;
  seen.add(key);
  await ctx.output.publish(key, event);
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}
