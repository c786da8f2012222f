import { describe, expect, it } from 'vitest';
import { partition, status } from './status-fixture.ts';
import { Timeline, timelineDiff } from './timeline.ts';

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

  it('tells a kill of the leader seen over three readings (leader, none, new leader) as one failover', () => {
    const noLeader = status({ leader: null });
    expect(timelineDiff(status(), noLeader, 1).map((e) => e.text)).toEqual(["no leader: c1's lease (term 1) ran out"]);
    const next = status({ leader: { id: 'c2', term: 2, lease_age_ms: 1 } });
    expect(timelineDiff(noLeader, next, 2, { id: 'c1', term: 1, lease_age_ms: 0 }).map((e) => `${e.kind}: ${e.text}`)).toEqual(['failover: c2 took over from c1 (term 2)']);
  });

  it('keeps only the latest events', () => {
    const t = new Timeline(3);
    for (let i = 0; i < 5; i++) t.add({ at: i, kind: 'action', text: String(i) });
    expect(t.list().map((e) => e.text)).toEqual(['2', '3', '4']);
  });
});

