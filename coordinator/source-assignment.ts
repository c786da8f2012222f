// Who runs which source: each source of a job goes to one live worker that runs the job. Sticky (a
// source stays where it runs while that worker lives, is not full and is not over its share) and
// balanced (sources spread so counts differ by at most one where the workers allow it; among equals,
// the worker with the fewest partitions takes it, then by id). Same input, same answer. Pure: no I/O.
import type { Owners } from './assignment-strategy.ts';

export interface SourceSpecForAssignment {
  /** "job/name". */
  readonly id: string;
  /** Live workers that can run it (they run its job and declare it). */
  readonly workers: readonly string[];
}

/** sources["job/name"] = worker id, or null when no live worker can run it. */
export type SourceOwners = Record<string, string | null>;

export function assignSources(sources: readonly SourceSpecForAssignment[], previous: SourceOwners, partitionOwners: Owners, full: readonly string[] = []): SourceOwners {
  const partitionLoad = new Map<string, number>();
  for (const owners of Object.values(partitionOwners)) for (const o of owners) if (o) partitionLoad.set(o, (partitionLoad.get(o) ?? 0) + 1);
  const fullSet = new Set(full);
  const ordered = [...sources].sort((a, b) => cmp(a.id, b.id));
  const everyone = [...new Set(ordered.flatMap((s) => s.workers))].sort(cmp);
  // Quotas as the partitions' (assignment-strategy.ts): floor(S/W) each, the S mod W extra slots to
  // the workers that hold the most already (fewest moves), then to those with fewest partitions.
  const held = new Map(everyone.map((w) => [w, 0]));
  for (const s of ordered) {
    const before = previous[s.id];
    if (before && s.workers.includes(before)) held.set(before, held.get(before)! + 1);
  }
  const base = everyone.length === 0 ? 0 : Math.floor(ordered.length / everyone.length);
  const extra = everyone.length === 0 ? 0 : ordered.length % everyone.length;
  const byPreference = [...everyone].sort((a, b) => held.get(b)! - held.get(a)! || (partitionLoad.get(a) ?? 0) - (partitionLoad.get(b) ?? 0) || cmp(a, b));
  const quota = new Map(everyone.map((w) => [w, base]));
  for (const w of byPreference.slice(0, extra)) quota.set(w, base + 1);
  const count = new Map<string, number>();
  const out: SourceOwners = {};
  // Keep what can be kept first, so that a newcomer never displaces a healthy owner within its share.
  for (const s of ordered) {
    const before = previous[s.id];
    if (before && s.workers.includes(before) && (count.get(before) ?? 0) < quota.get(before)!) {
      out[s.id] = before;
      count.set(before, (count.get(before) ?? 0) + 1);
    }
  }
  for (const s of ordered) {
    if (out[s.id] !== undefined) continue;
    const candidates = [...new Set(s.workers)].filter((w) => !fullSet.has(w));
    if (candidates.length === 0) {
      out[s.id] = null;
      continue;
    }
    // Under quota first; when every candidate is at its quota (full workers left theirs unused), the
    // least loaded.
    const under = candidates.filter((w) => (count.get(w) ?? 0) < quota.get(w)!);
    const pool = under.length > 0 ? under : candidates;
    pool.sort((a, b) => (count.get(a) ?? 0) - (count.get(b) ?? 0) || (partitionLoad.get(a) ?? 0) - (partitionLoad.get(b) ?? 0) || cmp(a, b));
    const chosen = pool[0]!;
    out[s.id] = chosen;
    count.set(chosen, (count.get(chosen) ?? 0) + 1);
  }
  return out;
}

/** Sources whose owner changed between two assignments. */
export function movedSources(before: SourceOwners, after: SourceOwners): { id: string; from: string | null; to: string | null }[] {
  return Object.keys({ ...before, ...after })
    .sort(cmp)
    .filter((id) => (before[id] ?? null) !== (after[id] ?? null))
    .map((id) => ({ id, from: before[id] ?? null, to: after[id] ?? null }));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
