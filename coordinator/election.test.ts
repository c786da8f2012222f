import { describe, expect, it } from 'vitest';
import { canAct, electionTick, initialElection, observeLeader, writeOutcome, type ElectionState } from './election.ts';

const t = { leaseMs: 1_500, renewMs: 300 };

describe('leader election', () => {
  it('campaigns at once when there is no leader record, and leads when its write wins', () => {
    let s = observeLeader(initialElection(0), 'a', null, 0, 0);
    const step = electionTick(s, 10, t);
    expect(step.action).toEqual({ type: 'campaign', term: 1, revision: 0 });
    s = writeOutcome(step.state, 'a', 1, 7, 10);
    expect(s).toMatchObject({ role: 'leader', term: 1, revision: 7 });
    expect(canAct(s, 500, t)).toBe(true);
  });

  it('follows a live leader and takes over only after the lease has passed without a change', () => {
    let s: ElectionState = observeLeader(initialElection(0), 'b', { id: 'a', term: 3, renewedAt: 0 }, 5, 0);
    expect(electionTick(s, 1_000, t).action.type).toBe('none');
    s = observeLeader(s, 'b', { id: 'a', term: 3, renewedAt: 1 }, 6, 1_200); // renewed
    expect(electionTick(s, 2_600, t).action.type).toBe('none');
    const step = electionTick(s, 2_700, t);
    expect(step.action).toEqual({ type: 'campaign', term: 4, revision: 6 });
    expect(writeOutcome(step.state, 'b', 4, null, 2_700).role).toBe('follower'); // lost the race
  });

  it('lets a paused leader wake up unable to act, and step down when its renewal fails', () => {
    let s = writeOutcome({ ...initialElection(0), role: 'candidate' }, 'a', 1, 2, 0);
    expect(canAct(s, 1_100, t)).toBe(true);
    expect(canAct(s, 1_200, t)).toBe(false); // renewal overdue: never act on a stale lease
    const step = electionTick(s, 5_000, t);
    expect(step.action).toEqual({ type: 'renew', term: 1, revision: 2 });
    s = writeOutcome(step.state, 'a', 1, null, 5_000);
    expect(s.role).toBe('follower');
    expect(canAct(s, 5_001, t)).toBe(false);
  });

  it('steps down when the record names another leader', () => {
    const s = writeOutcome({ ...initialElection(0), role: 'candidate' }, 'a', 1, 2, 0);
    expect(observeLeader(s, 'a', { id: 'b', term: 2, renewedAt: 0 }, 9, 100)).toMatchObject({ role: 'follower', term: 2, leaderId: 'b' });
  });

  it('takes over at once from a resigned leader, with a higher term than any before', () => {
    const s = observeLeader(initialElection(0), 'b', { id: 'a', term: 7, renewedAt: 0, resigned: true }, 12, 0);
    expect(s.leaderId).toBeNull();
    expect(electionTick(s, 1, t).action).toEqual({ type: 'campaign', term: 8, revision: 12 });
  });
});
