// "No two leaders act in the same term", checked on what the coordinators did: their JSON log lines
// that say they became leader or published an assignment, each with its term. Pure; the run reads
// the coordinators' log files and hands the lines over.

/** What one coordinator did as leader in one term. */
export interface LeaderAct {
  coordinator: string;
  term: number;
  act: 'became leader' | 'published an assignment';
}

/** A term in which more than one coordinator acted as leader: split brain. */
export interface TermConflict {
  term: number;
  coordinators: string[];
}

const ACTS: Record<string, LeaderAct['act']> = {
  'coordinator is now leader': 'became leader',
  'assignment published': 'published an assignment',
};

/** The leader acts in a coordinator's log (one JSON object per line; other lines are skipped). */
export function leaderActs(coordinator: string, log: string): LeaderAct[] {
  const acts: LeaderAct[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { msg?: unknown; term?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    const act = typeof entry.msg === 'string' ? ACTS[entry.msg] : undefined;
    if (act && typeof entry.term === 'number') acts.push({ coordinator, term: entry.term, act });
  }
  return acts;
}

/** How many times a worker's log says one of its partitions or routers was taken over (stopped before
 *  writing, or a write refused for a superseded epoch): a worker cut off or paused, once back. */
export function fencedStops(log: string): number {
  let n = 0;
  // A stop on a takeover, or any refused write (a release or checkpoint whose epoch was superseded).
  for (const line of log.split('\n')) if (line.includes('taken over by another worker') || line.includes('was superseded by epoch')) n++;
  return n;
}

/** Terms in which two or more coordinators acted as leader (empty: no split brain), and how many
 *  terms had a leader at all. */
export function termConflicts(acts: readonly LeaderAct[]): { terms: number; conflicts: TermConflict[] } {
  const byTerm = new Map<number, Set<string>>();
  for (const a of acts) byTerm.set(a.term, (byTerm.get(a.term) ?? new Set()).add(a.coordinator));
  const conflicts = [...byTerm]
    .filter(([, ids]) => ids.size > 1)
    .map(([term, ids]) => ({ term, coordinators: [...ids].sort() }))
    .sort((a, b) => a.term - b.term);
  return { terms: byTerm.size, conflicts };
}
