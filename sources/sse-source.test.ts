// Integration: the server-sent events source against a local server replaying recorded Wikimedia
// recentchange events, on a real nats-server. The ingest stream must hold every change once (the
// fixture's canary skipped, its malformed event dead-lettered, its repeated change once) through a
// disconnect in the middle of an event, an idle connection, a 503 with Retry-After and a restart
// from the checkpoint; reconnects carry the Last-Event-ID the documentation promises.
import { describe, expect, it } from 'vitest';
import { deadLetterStream, ingestStream } from '../common/names.ts';
import { recentChangeSource } from '../jobs/examples/wikimedia-edits.ts';
import { readStream, waitFor } from '../test/cluster-harness.ts';
import { recordedChanges, resumeIndex, sseBlock, sseFixture, streamEvents } from '../test/replay-server.ts';
import { useSourceTestbed } from '../test/source-testbed.ts';
import { withUrl } from './source-spec.ts';

const EVENTS = sseFixture('wikimedia-recentchange.sse');

const bed = useSourceTestbed(['wiki-cut', 'wiki-faults', 'wiki-oversized']);
const { server, run } = bed;


async function ingested(job: string): Promise<Record<string, unknown>[]> {
  return (await readStream(bed.nats.nc, ingestStream(job))).map((m) => JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown>);
}

const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.id).localeCompare(String(b.id));

describe('the server-sent events source', () => {
  it('reads a cut-off event again after reconnecting with Last-Event-ID, and publishes each recorded change once', async () => {
    const api = await server(async (req, res, n) => {
      const from = resumeIndex(EVENTS, req.headers['last-event-id']);
      // First connection: cut in the middle of event 100. Second: to the end. Then: nothing more.
      if (n === 0) await streamEvents(res, EVENTS, from, { cutAt: 100 });
      else await streamEvents(res, EVENTS, from, { end: n === 1 ? true : false });
    });
    const id = { job: 'wiki-cut', source: 'recentchange' };
    const runner = run(id, { ...withUrl(recentChangeSource, `${api.url}/v2/stream/recentchange`), minBackoffMs: 20, maxBackoffMs: 200 });
    const expected = recordedChanges(EVENTS);
    await waitFor(async () => (await ingested(id.job)).length >= expected.length && api.requests.length >= 3, 20_000, `${expected.length} changes and a third connection`);

    expect((await ingested(id.job)).sort(byId)).toEqual(expected.sort(byId));
    expect(expected.length).toBe(EVENTS.length - 3); // the canary, the malformed one and the repeat
    expect(api.requests[0]!.headers['last-event-id']).toBeUndefined();
    expect(api.requests[1]!.headers['last-event-id']).toBe(EVENTS[99]!.id);
    expect(api.requests[2]!.headers['last-event-id']).toBe(EVENTS.at(-1)!.id);
    expect(api.requests[0]!.headers['user-agent']).toMatch(/^shardflow/);
    const dlq = await readStream(bed.nats.nc, deadLetterStream(id.job));
    expect(dlq.map((m) => m.headers['Shardflow-Reason'])).toEqual(['malformed-json']);
    await waitFor(() => runner.stats().position.includes(EVENTS.at(-1)!.id.slice(0, 60)), 5_000, 'the last event checkpointed');
    expect(runner.stats().records).toBe(expected.length);
  });

  it('waits out a 503 for its Retry-After, drops a connection that stays silent past idleTimeout, and resumes from its checkpoint after a restart', async () => {
    const api = await server(async (req, res, n) => {
      const from = resumeIndex(EVENTS, req.headers['last-event-id']);
      if (n === 0) res.writeHead(503, { 'retry-after': '1' }).end();
      else if (n === 1) res.writeHead(200, { 'content-type': 'text/event-stream' }).write(':ok\n\n'); // then silence
      else if (n === 2) await streamEvents(res, EVENTS.slice(0, 60), from, { end: false });
      else await streamEvents(res, EVENTS, from, { end: false });
    });
    const id = { job: 'wiki-faults', source: 'recentchange' };
    const spec = { ...withUrl(recentChangeSource, `${api.url}/v2/stream/recentchange`), minBackoffMs: 20, maxBackoffMs: 200, idleTimeoutMs: 500, checkpointIntervalMs: 100 };
    const first = run(id, spec);
    const expected = recordedChanges(EVENTS);
    const firstPart = recordedChanges(EVENTS.slice(0, 60)).length;
    await waitFor(async () => (await ingested(id.job)).length >= firstPart, 20_000, 'the changes of the first 60 events');
    expect(api.requests[1]!.at - api.requests[0]!.at).toBeGreaterThanOrEqual(1_000); // Retry-After: 1
    expect(api.requests.length).toBe(3); // the silent connection was given up on (idleTimeout)
    // A graceful stop records the last event; the next runner (another worker) starts after it.
    await first.stop(true);
    expect(first.stats().position).toContain(EVENTS[59]!.id.slice(0, 60));
    run(id, spec);
    await waitFor(async () => (await ingested(id.job)).length >= expected.length, 20_000, 'every change');

    expect(api.requests[3]!.headers['last-event-id']).toBe(EVENTS[59]!.id);
    expect((await ingested(id.job)).sort(byId)).toEqual(expected.sort(byId));
  });

  it('skips an event larger than maxEventBytes, whole or cut across reads, dead-letters its beginning and reads on without reconnecting', async () => {
    const big = (n: number) => ({ id: `big-${n}`, data: JSON.stringify({ meta: { id: `big-${n}`, domain: 'en.wikipedia.org' }, wiki: 'enwiki', type: 'edit', bot: false, timestamp: 1733389200, comment: 'x'.repeat(10_000) }) });
    const normal = EVENTS.slice(0, 30);
    const api = await server(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const text = (events: readonly { id: string; data: string }[]) => events.map(sseBlock).join('');
      // One read holding events, a whole oversized event and more events; then one cut in two reads.
      await new Promise<void>((r) => res.write(text([...normal.slice(0, 10), big(1), ...normal.slice(10, 20)]), () => r()));
      await new Promise((r) => setTimeout(r, 50));
      const second = sseBlock(big(2));
      await new Promise<void>((r) => res.write(second.slice(0, 6_000), () => r()));
      await new Promise((r) => setTimeout(r, 50));
      res.write(second.slice(6_000) + text(normal.slice(20)));
    });
    const id = { job: 'wiki-oversized', source: 'recentchange' };
    run(id, { ...withUrl(recentChangeSource, `${api.url}/v2/stream/recentchange`), maxEventBytes: 4_096, minBackoffMs: 20, maxBackoffMs: 200 });
    const expected = recordedChanges(normal);
    await waitFor(async () => (await ingested(id.job)).length >= expected.length, 20_000, `${expected.length} changes`);

    expect((await ingested(id.job)).sort(byId)).toEqual(expected.sort(byId));
    expect(api.requests.length).toBe(1);
    const dlq = await readStream(bed.nats.nc, deadLetterStream(id.job));
    expect(dlq.map((m) => m.headers['Shardflow-Reason'])).toEqual(['oversized', 'oversized']);
    // Kept: the event's beginning (its data, or its raw text when the parser gave up on it).
    expect(dlq.map((m) => /big-\d/.exec(new TextDecoder().decode(m.data))?.[0]).sort()).toEqual(['big-1', 'big-2']);
  });
});

