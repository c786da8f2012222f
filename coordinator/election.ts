// Leader election on the `leader` KV record, as an explicit state machine. Pure: the coordinator
// feeds it what it read and the time, and carries out the action it returns.
//
//   follower  --(the leader record has not changed for leaseMs)-->  candidate
//   candidate --(compare-and-set of {me, term + 1} succeeded)-->    leader
//   candidate --(someone else wrote first)-->                       follower
//   leader    --(a renewal failed, or the record names another)-->  follower
//
// A leader may act only while its last successful renewal is younger than leaseMs - renewMs: a leader
// that was paused wakes up unable to act, fails its renewal (the revision moved on) and steps down, so
// it never publishes anything after the standby took over.
import type { LeaderRecord } from './protocol.ts';

export type Role = 'follower' | 'candidate' | 'leader';

export interface ElectionState {
  readonly role: Role;
  /** Highest term seen. */
  readonly term: number;
  readonly leaderId: string | null;
  /** KV revision of the leader record last seen (0: none). */
  readonly revision: number;
  /** Local time at which the record was last seen to change (or to be missing). */
  readonly changedAt: number;
  /** Local time of this coordinator's last successful write of the record, as leader. */
  readonly renewedAt: number;
}

export interface ElectionTiming {
  leaseMs: number;
  renewMs: number;
}

export type ElectionAction =
  | { type: 'none' }
  /** Write {me, term}: create when there is no leader record (revision 0), else compare-and-set on `revision`. */
  | { type: 'campaign'; term: number; revision: number }
  /** Rewrite {me, term} with compare-and-set on `revision`. */
  | { type: 'renew'; term: number; revision: number };

export function initialElection(now: number): ElectionState {
  return { role: 'follower', term: 0, leaderId: null, revision: 0, changedAt: now, renewedAt: 0 };
}

/** What was read of the leader record (null: absent) at `now`. */
export function observeLeader(s: ElectionState, me: string, record: LeaderRecord | null, revision: number, now: number): ElectionState {
  if (revision === s.revision) return s;
  const term = Math.max(s.term, record?.term ?? 0);
  const leaderId = record && !record.resigned ? record.id : null;
  const role: Role = s.role === 'leader' && leaderId !== me ? 'follower' : s.role;
  return { ...s, role, term, leaderId, revision, changedAt: now };
}

/** The next step on a timer tick. */
export function electionTick(s: ElectionState, now: number, t: ElectionTiming): { state: ElectionState; action: ElectionAction } {
  if (s.role === 'leader') return { state: s, action: { type: 'renew', term: s.term, revision: s.revision } };
  if (now - s.changedAt >= t.leaseMs || s.leaderId === null) {
    return { state: { ...s, role: 'candidate' }, action: { type: 'campaign', term: s.term + 1, revision: s.revision } };
  }
  return { state: s, action: { type: 'none' } };
}

/** The outcome of a campaign or renewal write: the new revision, or null if someone else wrote. */
export function writeOutcome(s: ElectionState, me: string, term: number, revision: number | null, now: number): ElectionState {
  if (revision === null) return { ...s, role: 'follower', changedAt: s.role === 'candidate' ? s.changedAt : now };
  return { ...s, role: 'leader', term, leaderId: me, revision, changedAt: now, renewedAt: now };
}

export function canAct(s: ElectionState, now: number, t: ElectionTiming): boolean {
  return s.role === 'leader' && now - s.renewedAt < t.leaseMs - t.renewMs;
}
