// What happened in the cluster, told from two successive status readings: a change of leader (a
// failover when the old one had not resigned), workers joining, leaving, dying and coming back
// under a new pid, rebalances, jobs paused and resumed. Pure: the console feeds it readings and keeps
// the events (and the actions people took) in a bounded list. The first reading tells nothing.
import type { ClusterStatus } from '../coordinator/cluster-status.ts';

export type TimelineKind = 'leader' | 'failover' | 'worker-joined' | 'worker-left' | 'worker-restarted' | 'rebalance' | 'job' | 'action';

export interface TimelineEvent {
  at: number;
  kind: TimelineKind;
  text: string;
}

export function timelineDiff(before: ClusterStatus | undefined, after: ClusterStatus, at: number): TimelineEvent[] {
  if (!before) return [];
  const out: TimelineEvent[] = [];
  const event = (kind: TimelineKind, text: string) => out.push({ at, kind, text });

  const [was, is] = [before.leader, after.leader];
  if (is && (!was || was.id !== is.id || was.term !== is.term)) {
    if (was && was.id !== is.id) event('failover', `${is.id} took over from ${was.id} (term ${is.term})`);
    else event('leader', `${is.id} leads (term ${is.term})`);
  } else if (!is && was) {
    event('leader', `no leader: ${was.id}'s lease (term ${was.term}) ran out`);
  }

  const alive = (s: ClusterStatus) => new Map(s.workers.filter((w) => w.alive).map((w) => [w.id, w]));
  const [aliveBefore, aliveAfter] = [alive(before), alive(after)];
  for (const [id, w] of aliveAfter) {
    const old = aliveBefore.get(id);
    if (!old) event('worker-joined', `worker ${id} joined${w.host ? ` on ${w.host}` : ''}${w.pid ? ` (pid ${w.pid})` : ''}`);
    else if (old.pid !== null && w.pid !== null && old.pid !== w.pid) event('worker-restarted', `worker ${id} restarted (pid ${old.pid} → ${w.pid})`);
  }
  for (const id of aliveBefore.keys()) {
    if (aliveAfter.has(id)) continue;
    const gone = after.workers.some((w) => w.id === id);
    event('worker-left', gone ? `worker ${id} stopped heartbeating (killed, paused or cut off)` : `worker ${id} left (stopped gracefully)`);
  }

  if (after.assignment && before.assignment && after.assignment.version !== before.assignment.version) {
    const owner = new Map(before.partitions.map((p) => [`${p.job}/${p.partition}`, p.owner]));
    const moved = after.partitions.filter((p) => owner.has(`${p.job}/${p.partition}`) && owner.get(`${p.job}/${p.partition}`) !== p.owner).length;
    event('rebalance', `rebalance: assignment v${after.assignment.version} (term ${after.assignment.term}), ${moved} partition${moved === 1 ? '' : 's'} moved`);
  }

  const paused = new Map(before.jobs.map((j) => [j.name, j.paused]));
  for (const j of after.jobs) {
    if (paused.has(j.name) && paused.get(j.name) !== j.paused) event('job', j.paused ? `job ${j.name} paused by ${j.paused_by ?? 'someone'}` : `job ${j.name} resumed`);
  }
  return out;
}

/** The latest events, oldest first, at most `limit` of them. */
export class Timeline {
  private readonly events: TimelineEvent[] = [];

  constructor(private readonly limit = 1_000) {}

  add(...events: TimelineEvent[]): void {
    this.events.push(...events);
    if (this.events.length > this.limit) this.events.splice(0, this.events.length - this.limit);
  }

  list(): TimelineEvent[] {
    return [...this.events];
  }
}
