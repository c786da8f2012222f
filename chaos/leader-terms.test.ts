import { describe, expect, it } from 'vitest';
import { fencedStops, leaderActs, termConflicts } from './leader-terms.ts';

const line = (o: object) => JSON.stringify({ level: 30, time: 1, ...o });

describe('leader terms', () => {
  it('reads the leader acts of a coordinator log and skips every other line', () => {
    const log = [
      line({ msg: 'coordinator is now leader', term: 3, from: 'follower' }),
      'not json at all',
      '{"broken": ',
      line({ msg: 'assignment published', term: 3, version: 7 }),
      line({ msg: 'coordinator is now follower', term: 4 }),
      line({ msg: 'assignment published' }),
    ].join('\n');
    expect(leaderActs('c1', log)).toEqual([
      { coordinator: 'c1', term: 3, act: 'became leader' },
      { coordinator: 'c1', term: 3, act: 'published an assignment' },
    ]);
  });

  it('finds no conflict when each term has one leader', () => {
    const acts = [...leaderActs('c1', line({ msg: 'coordinator is now leader', term: 1 })), ...leaderActs('c2', line({ msg: 'assignment published', term: 2 }))];
    expect(termConflicts(acts)).toEqual({ terms: 2, conflicts: [] });
  });

  it('counts the partitions and routers a worker stopped because they were taken over', () => {
    const log = [line({ msg: 'partition taken over by another worker: stopped, nothing written' }), line({ msg: 'ingest router taken over by another worker: stopped' }), line({ msg: 'partition started' })].join('\n');
    expect(fencedStops(log)).toBe(2);
  });

  it('reports a term in which two coordinators acted as leader', () => {
    const acts = [...leaderActs('c2', line({ msg: 'assignment published', term: 5 })), ...leaderActs('c1', line({ msg: 'coordinator is now leader', term: 5 }))];
    expect(termConflicts(acts).conflicts).toEqual([{ term: 5, coordinators: ['c1', 'c2'] }]);
  });
});
