// One HTTP request of a polling source, within its limits: a timeout over the whole request (headers
// and body), a ceiling on the body's size (read in chunks and given up on as soon as it is passed,
// whatever Content-Length claims), conditional headers, and every way it can go wrong turned into an
// outcome the poller acts on, never an exception (except the source being stopped).
import type { RequestOutcome } from './source-context.ts';
import { parseRetryAfter } from './backoff.ts';

export type FetchResult =
  | { readonly type: 'ok'; readonly body: unknown; readonly etag?: string; readonly lastModified?: string }
  | { readonly type: 'not-modified' }
  | { readonly type: 'failed'; readonly outcome: Exclude<RequestOutcome, 'ok' | 'not-modified'>; readonly message: string; readonly retryAfterMs?: number };

export interface FetchRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly etag?: string;
  readonly lastModified?: string;
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** The source's stop signal: an abort by it is rethrown, not an outcome. */
  readonly signal: AbortSignal;
}

export async function fetchJson(req: FetchRequest): Promise<FetchResult> {
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = AbortSignal.any([req.signal, timeout]);
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  if (req.etag) headers['if-none-match'] = req.etag;
  if (req.lastModified) headers['if-modified-since'] = req.lastModified;
  try {
    const res = await fetch(req.url, { headers, signal, redirect: 'follow' });
    if (res.status === 304) {
      await res.body?.cancel().catch(() => {});
      return { type: 'not-modified' };
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), Date.now());
      const outcome = res.status === 429 ? 'throttled' : res.status >= 500 ? 'server-error' : 'client-error';
      return { type: 'failed', outcome, message: `HTTP ${res.status} ${res.statusText}`.trim(), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > req.maxBytes) {
      await res.body?.cancel().catch(() => {});
      return tooLarge(req.maxBytes, `declares ${declared} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > req.maxBytes) {
          await reader.cancel().catch(() => {});
          return tooLarge(req.maxBytes, `passed it`);
        }
        chunks.push(value);
      }
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      return { type: 'failed', outcome: 'invalid', message: `the response is not JSON: ${(err as Error).message}` };
    }
    return { type: 'ok', body, ...(res.headers.get('etag') ? { etag: res.headers.get('etag')! } : {}), ...(res.headers.get('last-modified') ? { lastModified: res.headers.get('last-modified')! } : {}) };
  } catch (err) {
    if (req.signal.aborted) throw err;
    if (timeout.aborted) return { type: 'failed', outcome: 'timeout', message: `no complete response within ${req.timeoutMs} ms` };
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { type: 'failed', outcome: 'network', message: `request failed: ${cause?.code ?? cause?.message ?? (err as Error).message}` };
  }
}

function tooLarge(maxBytes: number, how: string): FetchResult {
  return { type: 'failed', outcome: 'too-large', message: `the response is larger than maxResponseBytes (${maxBytes} bytes): it ${how}` };
}
