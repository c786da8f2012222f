import { describe, expect, it } from 'vitest';
import type { ClusterStatus, PartitionStatus } from '../coordinator/cluster-status.ts';
import { eventRates, JobSeries } from './rates.ts';
import { Timeline, timelineDiff } from './timeline.ts';

const partition = (p: number, owner: string | null, events: number | null): PartitionStatus => ({
  job: 'j',
  partition: p,
  owner,
  lag: 0,
  events,
  watermark: null,
  checkpoint_at: null,
  checkpoint_bytes: null,
  restarts: 0,
  keys: 0,
  windows: 0,
});

function status(over: Partial<ClusterStatus> = {}): ClusterStatus {
  return {
    leader: { id: 'c1', term: 1, lease_age_ms: 10 },
    coordinators: [],
    workers: ['w1', 'w2'].map((id, i) => ({ id, alive: true, partitions: 1, last_heartbeat_ms: 10, metrics_port: 0, host: 'h', pid: 100 + i, rss_bytes: 1, full: false })),
    partitions: [partition(0, 'w1', 0), partition(1, 'w2', 0)],
    jobs: [{ name: 'j', description: '', partitions: 2, window: 'tumbling', aggregates: [], sink: { type: 'kv' }, registeredAt: 0, paused: false, paused_by: null }],
    assignment: { term: 1, version: 1 },
    ...over,
  };
}

describe('the console timeline', () => {
  it('tells nothing from a first reading, nor from two equal ones', () => {
    expect(timelineDiff(undefined, status(), 1)).toEqual([]);
    expect(timelineDiff(status(), status(), 1)).toEqual([]);
  });

  it('tells a failover, a worker that died and one that came back under a new pid, and the rebalance', () => {
    const before = status();
    const after = status({
      leader: { id: 'c2', term: 2, lease_age_ms: 5 },
      workers: [
        { ...before.workers[0]!, alive: false },
        { ...before.workers[1]!, pid: 999 },
      ],
      partitions: [partition(0, 'w2', 0), partition(1, 'w2', 0)],
      assignment: { term: 2, version: 2 },
    });
    const texts = timelineDiff(before, after, 5).map((e) => `${e.kind}: ${e.text}`);
    expect(texts).toEqual([
      'failover: c2 took over from c1 (term 2)',
      'worker-restarted: worker w2 restarted (pid 101 → 999)',
      'worker-left: worker w1 stopped heartbeating (killed, paused or cut off)',
      'rebalance: rebalance: assignment v2 (term 2), 1 partition moved',
    ]);
  });

  it('tells a worker that left gracefully from one that stopped heartbeating, and jobs paused and resumed', () => {
    const before = status();
    const gone = status({ workers: [before.workers[1]!], jobs: [{ ...before.jobs[0]!, paused: true, paused_by: 'alice' }] });
    expect(timelineDiff(before, gone, 1).map((e) => e.text)).toEqual(['worker w1 left (stopped gracefully)', 'job j paused by alice']);
    expect(timelineDiff(gone, before, 2).map((e) => e.text)).toEqual(['worker w1 joined on h (pid 100)', 'job j resumed']);
  });

  it('keeps only the latest events', () => {
    const t = new Timeline(3);
    for (let i = 0; i < 5; i++) t.add({ at: i, kind: 'action', text: String(i) });
    expect(t.list().map((e) => e.text)).toEqual(['2', '3', '4']);
  });
});

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

  it('keep a bounded series per job and forget jobs that are gone', () => {
    const s = new JobSeries(2);
    for (let i = 0; i < 4; i++) s.add('j', { at: i, eventsPerSec: i, lag: 0 });
    s.add('k', { at: 0, eventsPerSec: 0, lag: 0 });
    expect(s.of('j').map((x) => x.at)).toEqual([2, 3]);
    s.keepOnly(new Set(['j']));
    expect(s.of('k')).toEqual([]);
  });
});
