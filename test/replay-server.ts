// Local HTTP servers that replay recorded fixtures in the shape of the real APIs the sources read
// (CoinCap /v2/assets, OpenFood search pages, Wikimedia EventStreams), on a free loopback port. Each
// test scripts what the server does per request (a page, a 304, a 429 with Retry-After, a 500, a
// response that is slow, hangs or is cut in the middle of an event), and every request is recorded.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export const FIXTURES = join(import.meta.dirname, 'fixtures', 'sources');

export interface RecordedRequest {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Epoch ms it arrived. */
  readonly at: number;
}

export interface ReplayServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/** `handle` answers request number n (from 0). */
export async function startReplayServer(handle: (req: IncomingMessage, res: ServerResponse, n: number) => void | Promise<void>): Promise<ReplayServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const n = requests.length;
    requests.push({ url: req.url ?? '', headers: req.headers, at: Date.now() });
    Promise.resolve(handle(req, res, n)).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function json(res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export function fixtureJson<T>(file: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as T;
}

/** A recorded SSE event: its id line and data line, as the fixture file holds them. */
export interface RecordedSseEvent {
  readonly id: string;
  readonly data: string;
}

/** The events of an SSE fixture, read with plain string splitting (not the library under test). */
export function sseFixture(file: string): RecordedSseEvent[] {
  return readFileSync(join(FIXTURES, file), 'utf8')
    .split('\n\n')
    .filter((block) => block.includes('\ndata: '))
    .map((block) => {
      const lines = block.split('\n');
      return { id: lines.find((l) => l.startsWith('id: '))!.slice(4), data: lines.find((l) => l.startsWith('data: '))!.slice(6) };
    });
}

export function sseBlock(e: RecordedSseEvent): string {
  return `event: message\nid: ${e.id}\ndata: ${e.data}\n\n`;
}

/** Where a reconnect with this Last-Event-ID resumes in `events`: after that event, or the start. */
export function resumeIndex(events: readonly RecordedSseEvent[], lastEventId: string | string[] | undefined): number {
  if (typeof lastEventId !== 'string') return 0;
  const at = events.findIndex((e) => e.id === lastEventId);
  return at < 0 ? 0 : at + 1;
}

/** Writes events from `from` in groups of `perWrite`, `intervalMs` apart; resolves when written or when
 *  the client went away. `cut(i)`: end the connection in the middle of event i instead (its first half
 *  written). */
export async function streamEvents(res: ServerResponse, events: readonly RecordedSseEvent[], from: number, options: { perWrite?: number; intervalMs?: number; cutAt?: number; end?: boolean } = {}): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  // A comment, the reconnection time, then lines that are no SSE field at all: a reader must skip them.
  res.write(':ok\n\nretry: 100\n\nthis line is no field\nretry: soon\n\n');
  const perWrite = options.perWrite ?? 10;
  for (let i = from; i < events.length; i += perWrite) {
    if (res.destroyed) return;
    let chunk = '';
    for (let j = i; j < Math.min(events.length, i + perWrite); j++) {
      if (j === options.cutAt) {
        const block = sseBlock(events[j]!);
        // Flushed first: a destroy discards what is still buffered.
        await new Promise<void>((resolve) => res.write(chunk + block.slice(0, Math.floor(block.length / 2)), () => resolve()));
        res.destroy();
        return;
      }
      chunk += sseBlock(events[j]!);
    }
    res.write(chunk);
    if (options.intervalMs) await new Promise((r) => setTimeout(r, options.intervalMs));
  }
  if (options.end !== false) res.end();
}

/** The oracle's view of recorded recentchange events: each change once (by meta.id), canaries and
 *  events whose data is not JSON left out, in the shape the wikimedia-edits job takes. Written out
 *  here, not taken from the job's source, so a mistake there cannot hide by being computed twice. */
export function recordedChanges(events: readonly RecordedSseEvent[]): Record<string, unknown>[] {
  const seen = new Set<string>();
  const out: Record<string, unknown>[] = [];
  for (const e of events) {
    let d: Record<string, unknown>;
    try {
      d = JSON.parse(e.data) as Record<string, unknown>;
    } catch {
      continue;
    }
    const meta = d.meta as { id: string; domain: string };
    if (meta.domain === 'canary' || seen.has(meta.id)) continue;
    seen.add(meta.id);
    out.push({ id: meta.id, wiki: d.wiki, type: d.type, bot: d.bot, user: d.user, title: d.title, ts: (d.timestamp as number) * 1000 });
  }
  return out;
}
