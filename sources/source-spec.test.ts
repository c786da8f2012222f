import { describe, expect, it } from 'vitest';
import { coincapSource } from '../jobs/examples/crypto-prices.ts';
import { defineJob } from '../jobs/define-job.ts';
import { getJob } from '../jobs/catalog.ts';
import { pageUrl } from './http-poll-source.ts';
import { httpPollSource, sseSource, withUrl } from './source-spec.ts';
import { withSourceUrls } from './source-urls.ts';

describe('source declarations', () => {
  it('report every problem at once, as advice', () => {
    let message = '';
    try {
      httpPollSource({ name: 'Bad Name', url: 'ftp://x', interval: 'often', records: 42 as never, maxInFlight: 0 });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('name "Bad Name" must be 1-48 lowercase letters');
    expect(message).toContain('url "ftp://x" must be an http:// or https:// URL');
    expect(message).toContain('interval: "often" is not a duration');
    expect(message).toContain('maxInFlight must be a whole number >= 1, got 0');
    expect(message).toContain('records must be a function giving the array of records of a response');
    expect(() => sseSource({ name: 'ok', url: 'https://x', minBackoff: '10s', maxBackoff: '1s' })).toThrow(/maxBackoff \(1000 ms\) must be at least minBackoff \(10000 ms\)/);
  });

  it('are unique by name within a job', () => {
    const base = getJob('wikimedia-edits');
    expect(() => defineJob({ ...base, name: 'twice', key: 'wiki', eventTime: 'ts', sink: { type: 'kv' }, limits: {}, retention: {}, sources: [base.sources[0]!, base.sources[0]!] } as never)).toThrow(
      /two sources are named "recentchange"/,
    );
  });

  it('put the page and its size into the query of a paginated poll', () => {
    const spec = getJob('openfood-nutriscore').sources[0]!;
    expect(spec.kind).toBe('http-poll');
    const url = new URL(pageUrl(spec as Parameters<typeof pageUrl>[0], 3));
    expect([url.searchParams.get('page'), url.searchParams.get('page_size'), url.searchParams.get('json')]).toEqual(['3', '100', '1']);
  });

  it('point elsewhere by SHARDFLOW_SOURCE_URLS, and refuse an override naming no source', () => {
    const jobs = [getJob('crypto-prices'), getJob('wikimedia-edits')];
    const moved = withSourceUrls(jobs, { 'crypto-prices/coincap': 'http://127.0.0.1:9/v2/assets' });
    expect(moved[0]!.sources[0]!.url).toBe('http://127.0.0.1:9/v2/assets');
    expect(moved[1]!.sources[0]!.url).toBe('https://stream.wikimedia.org/v2/stream/recentchange');
    expect(coincapSource.url).toBe('https://api.coincap.io/v2/assets?limit=100');
    expect(() => withSourceUrls(jobs, { 'crypto-prices/coincapp': 'http://x' })).toThrow(/names crypto-prices\/coincapp, which no job given to this process declares; its sources are: crypto-prices\/coincap, wikimedia-edits\/recentchange/);
    expect(() => withUrl(coincapSource, 'file:///etc/passwd')).toThrow(/must be an http:\/\/ or https:\/\/ URL/);
  });
});
