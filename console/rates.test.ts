import { describe, expect, it } from 'vitest';
import { eventRates, JobSeries } from './rates.ts';
import { partition, status } from './status-fixture.ts';

describe('event rates', () => {
  it('are the growth of each partition counter over the interval, added up per worker and job', () => {
    const before = { at: 0, status: status({ partitions: [partition(0, 'w1', 100), partition(1, 'w2', 50)] }) };
    const after = { at: 2_000, status: status({ partitions: [partition(0, 'w1', 300), partition(1, 'w2', 150)] }) };
    const r = eventRates(before, after);
    expect(r.partitions.get('j/0')).toBe(100);
    expect(r.workers.get('w2')).toBe(50);
    expect(r.jobs.get('j')).toBe(150);
  });

  it('count nothing for a partition that changed owner or whose counter started again', () => {
    const before = { at: 0, status: status({ partitions: [partition(0, 'w1', 100), partition(1, 'w2', 500)] }) };
    const after = { at: 1_000, status: status({ partitions: [partition(0, 'w2', 120), partition(1, 'w2', 10)] }) };
    const r = eventRates(before, after);
    expect(r.jobs.get('j')).toBe(0);
  });

  it('are timed by the heartbeats that carried the counts, and kept while no new heartbeat came', () => {
    const worker = (id: string, age: number) => ({ ...status().workers[0]!, id, last_heartbeat_ms: age });
    // Readings 1 s apart, but w1's heartbeats 0.5 s apart: 100 events in 0.5 s.
    const before = { at: 1_000, status: status({ workers: [worker('w1', 400), worker('w2', 10)], partitions: [partition(0, 'w1', 0), partition(1, 'w2', 0)] }) };
    const after = { at: 2_000, status: status({ workers: [worker('w1', 900), worker('w2', 10)], partitions: [partition(0, 'w1', 100), partition(1, 'w2', 0)] }) };
    const r = eventRates(before, after);
    expect(r.partitions.get('j/0')).toBe(200);
    // The same heartbeat read again a second later: the rate stays, it does not drop to 0.
    const again = { at: 3_000, status: status({ workers: [worker('w1', 1_900), worker('w2', 10)], partitions: [partition(0, 'w1', 100), partition(1, 'w2', 0)] }) };
    expect(eventRates({ ...after, rates: r }, again).partitions.get('j/0')).toBe(200);
  });

  it('keep a bounded series per job and forget jobs that are gone', () => {
    const s = new JobSeries(2);
    for (let i = 0; i < 4; i++) s.add('j', { at: i, eventsPerSec: i, lag: 0 });
    s.add('k', { at: 0, eventsPerSec: 0, lag: 0 });
    expect(s.of('j').map((x) => x.at)).toEqual([2, 3]);
    s.keepOnly(new Set(['j']));
    expect(s.of('k')).toEqual([]);
  });
});
