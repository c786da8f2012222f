// Integration: the HTTP polling source against local servers replaying recorded CoinCap /v2/assets
// snapshots and OpenFood search pages, on a real nats-server. What the job's ingest stream holds
// must equal the fixtures' records mapped by an independent oracle, each once; every failure of the
// API is waited out as documented; a source taken over by another runner publishes nothing more.
import { describe, expect, it } from 'vitest';
import { metrics } from '../common/metrics.ts';
import { deadLetterStream, ingestStream } from '../common/names.ts';
import { coincapSource } from '../jobs/examples/crypto-prices.ts';
import { openfoodSearchSource } from '../jobs/examples/openfood-products.ts';
import { readStream, waitFor } from '../test/cluster-harness.ts';
import { fixtureJson, json } from '../test/replay-server.ts';
import { useSourceTestbed } from '../test/source-testbed.ts';
import { httpPollSource, withUrl } from './source-spec.ts';

interface Snapshot {
  data: unknown[];
  timestamp: number;
}
interface SearchPage {
  count: number;
  page: number;
  page_size: number;
  products: unknown[];
}
const SNAPSHOTS = fixtureJson<Snapshot[]>('coincap-assets.json');
const PAGES = fixtureJson<SearchPage[]>('openfood-search.json');

const bed = useSourceTestbed(['coincap-ok', 'coincap-faults', 'openfood-fenced']);
const { server, run } = bed;



async function ingested(job: string): Promise<unknown[]> {
  return (await readStream(bed.nats.nc, ingestStream(job))).map((m) => JSON.parse(new TextDecoder().decode(m.data)) as unknown);
}

/** The oracle: a CoinCap snapshot's assets as ticks, written out here rather than taken from the job. */
function expectedTicks(snapshots: readonly Snapshot[]): unknown[] {
  return snapshots.flatMap((s) =>
    s.data
      .filter((a): a is Record<string, unknown> => typeof a === 'object' && a !== null)
      .map((a) => ({ asset: a.id, price_usd: a.priceUsd, volume: 0, ts: s.timestamp, exchange: 'coincap' })),
  );
}

const byJson = (a: unknown, b: unknown) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);

describe('the HTTP polling source', () => {
  it('publishes every asset of every CoinCap snapshot once, skipping unchanged (304) and repeated snapshots, and dead-letters a record that is not an object', async () => {
    const script = [
      () => ({ body: SNAPSHOTS[0], etag: '"s0"' }),
      () => 'not-modified' as const,
      () => ({ body: SNAPSHOTS[1], etag: '"s1"' }),
      // The same snapshot under another ETag (a CDN node of its own): nothing new in it.
      () => ({ body: SNAPSHOTS[1], etag: '"s1-b"' }),
      () => ({ body: SNAPSHOTS[2], etag: '"s2"' }),
    ];
    const api = await server((req, res, n) => {
      const step = script[n]?.() ?? 'not-modified';
      if (step === 'not-modified' || req.headers['if-none-match'] === (step as { etag: string }).etag) {
        res.writeHead(304).end();
        return;
      }
      json(res, step.body, { etag: step.etag });
    });
    const spec = { ...withUrl(coincapSource, `${api.url}/v2/assets?limit=100`), intervalMs: 100 };
    const runner = run({ job: 'coincap-ok', source: 'coincap' }, spec);
    await waitFor(() => api.requests.length >= 7, 20_000, 'seven polls');
    await waitFor(async () => (await ingested('coincap-ok')).length >= 24, 10_000, '24 ticks');

    expect((await ingested('coincap-ok')).sort(byJson)).toEqual(expectedTicks(SNAPSHOTS).sort(byJson));
    expect(api.requests[1]!.headers['if-none-match']).toBe('"s0"');
    const dlq = await readStream(bed.nats.nc, deadLetterStream('coincap-ok'));
    expect(dlq.map((m) => [m.headers['Shardflow-Reason'], m.headers['Shardflow-Source-Name'], new TextDecoder().decode(m.data)])).toEqual([['not-an-object', 'coincap', '"not an asset"']]);
    expect(runner.stats()).toMatchObject({ records: 24, lastError: null });
    const entry = await bed.store.inspect({ job: 'coincap-ok', source: 'coincap' });
    expect(entry?.entry.seq).toBe(24);
  });

  it('waits out a 429 for its Retry-After, a 503, a slow and a hanging response, a body over the size limit and one that is not JSON, then publishes', async () => {
    const big = JSON.stringify({ data: Array.from({ length: 2_000 }, (_, i) => ({ id: `asset-${i}`, priceUsd: '1.0' })), timestamp: 1 });
    const api = await server(async (_req, res, n) => {
      if (n === 0) res.writeHead(429, { 'retry-after': '1' }).end('slow down');
      else if (n === 1) res.writeHead(503).end();
      else if (n === 2) setTimeout(() => json(res, SNAPSHOTS[0]), 1_500);
      else if (n === 3) res.writeHead(200, { 'content-type': 'application/json' }).write('{"data": ['); // and nothing more
      else if (n === 4) res.writeHead(200, { 'content-type': 'application/json' }).end(big); // chunked: no length to refuse up front
      else if (n === 5) res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
      else if (n === 6) json(res, SNAPSHOTS[0]);
      else res.writeHead(304).end();
    });
    const spec = httpPollSource({
      name: 'coincap',
      url: `${api.url}/v2/assets`,
      interval: '1h',
      records: coincapSource.records,
      dedupeKey: coincapSource.dedupeKey,
      toEvent: coincapSource.toEvent,
      timeout: '400ms',
      maxResponseBytes: 32 * 1024,
      minBackoff: '20ms',
      maxBackoff: '100ms',
    });
    const labels = { job: 'coincap-faults', source: 'coincap' };
    const runner = run(labels, spec);
    await waitFor(async () => (await ingested('coincap-faults')).length >= 8, 20_000, 'the snapshot after the failures');

    expect((await ingested('coincap-faults')).sort(byJson)).toEqual(expectedTicks([SNAPSHOTS[0]!]).sort(byJson));
    expect(api.requests.length).toBe(7);
    expect(api.requests[1]!.at - api.requests[0]!.at).toBeGreaterThanOrEqual(1_000); // Retry-After: 1
    const outcomes = Object.fromEntries((await metrics.sourceRequests.get()).values.filter((v) => v.labels.job === labels.job).map((v) => [v.labels.outcome, v.value]));
    expect(outcomes).toEqual({ throttled: 1, 'server-error': 1, timeout: 2, 'too-large': 1, invalid: 1, ok: 1 });
    expect(runner.stats().lastError).toBeNull();
  });

  it('pages through OpenFood search results; a runner whose source was taken over publishes nothing more, and the new owner resumes where the checkpoint says', async () => {
    let releaseFirstPage2: () => void = () => {};
    const firstPage2 = new Promise<void>((r) => (releaseFirstPage2 = r));
    let page2Requests = 0;
    const api = await server(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const page = Number(url.searchParams.get('page'));
      expect(url.searchParams.get('page_size')).toBe('5');
      // The first runner's request for page 2 is answered only after a second runner took over.
      if (page === 2 && page2Requests++ === 0) await firstPage2;
      json(res, PAGES[page - 1] ?? { count: 12, page, page_size: 5, products: [] });
    });
    const base = openfoodSearchSource();
    const spec = { ...withUrl(base, `${api.url}/cgi/search.pl?action=process&json=1`), intervalMs: 3_600_000, pagination: { ...base.pagination!, size: { param: 'page_size', size: 5 } } };
    const id = { job: 'openfood-fenced', source: 'openfood-search' };
    let fenced = false;
    const first = run(id, spec, () => (fenced = true));
    await waitFor(() => page2Requests === 1, 10_000, 'the first runner asking for page 2');
    await waitFor(async () => (await ingested(id.job)).length === 5, 10_000, 'page 1 published');

    const second = run(id, spec);
    await waitFor(async () => (await ingested(id.job)).length >= 12, 10_000, 'pages 2 and 3 published by the second runner');
    releaseFirstPage2();
    await waitFor(() => fenced, 10_000, 'the first runner fenced');

    const products = PAGES.flatMap((p) => p.products).filter((p): p is Record<string, unknown> => typeof p === 'object' && p !== null);
    const published = (await ingested(id.job)) as Record<string, unknown>[];
    expect(published.map((p) => p.code).sort()).toEqual(products.map((p) => p.code).sort());
    for (const p of published) {
      const original = products.find((o) => o.code === p.code)!;
      expect(p).toMatchObject({ product_name: original.product_name, nutriscore_grade: original.nutriscore_grade, energy_100g: (original.nutriments as Record<string, number>).energy_100g });
      expect(typeof p.ts).toBe('number');
    }
    expect((await readStream(bed.nats.nc, deadLetterStream(id.job))).map((m) => m.headers['Shardflow-Reason'])).toEqual(['not-an-object']);
    expect(second.stats().records).toBe(12);
    const entry = await bed.store.inspect(id);
    expect(entry?.entry.owner).toBe(`w-${bed.runners.indexOf(second)}`);
    expect(entry?.entry.seq).toBe(12);
    expect(second.stats().position).toMatch(/^next poll at /);
    expect(first.stats().records).toBe(5);
  });
});
