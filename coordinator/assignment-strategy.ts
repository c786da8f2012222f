// Who runs which partition: spread every job's partitions evenly over the live workers that run the
// job (per job, counts differ by at most one), move as few partitions as possible from the previous
// assignment, and give the same answer for the same input. A worker near its memory limit ("full")
// keeps what it runs but is given nothing more, so a heavy partition moved off a dying worker cannot
// take the next one down too; with every worker full, partitions without an owner wait (their lag
// grows) rather than land on a worker that would die of them. Pure: no I/O.

export interface JobSpec {
  readonly job: string;
  readonly partitions: number;
  /** Live workers that can run this job. */
  readonly workers: readonly string[];
  /** Those of them that take no new partitions (near their memory limit). */
  readonly full?: readonly string[];
}

/** owners[job][p] = worker id, or null when no live worker runs the job. */
export type Owners = Record<string, (string | null)[]>;

export function assignPartitions(jobs: readonly JobSpec[], previous: Owners): Owners {
  const load = new Map<string, number>();
  const out: Owners = {};
  for (const spec of [...jobs].sort((a, b) => cmp(a.job, b.job))) {
    const workers = [...new Set(spec.workers)].sort(cmp);
    const before = previous[spec.job] ?? [];
    const owners: (string | null)[] = new Array(spec.partitions).fill(null);
    if (workers.length === 0) {
      out[spec.job] = owners;
      continue;
    }
    const held = new Map(workers.map((w) => [w, 0]));
    for (let p = 0; p < spec.partitions; p++) {
      const o = before[p];
      if (o && held.has(o)) held.set(o, held.get(o)! + 1);
    }
    // Quotas: floor(P/W) each; the P mod W extra slots go to the workers that hold the most already
    // (fewest moves), then to the least loaded across jobs, then by id.
    const base = Math.floor(spec.partitions / workers.length);
    const extra = spec.partitions % workers.length;
    const byPreference = [...workers].sort((a, b) => held.get(b)! - held.get(a)! || (load.get(a) ?? 0) - (load.get(b) ?? 0) || cmp(a, b));
    const quota = new Map(workers.map((w) => [w, base]));
    for (const w of byPreference.slice(0, extra)) quota.set(w, base + 1);

    const full = new Set(spec.full ?? []);
    const kept = new Map(workers.map((w) => [w, 0]));
    for (let p = 0; p < spec.partitions; p++) {
      const o = before[p];
      if (o && quota.has(o) && kept.get(o)! < quota.get(o)!) {
        owners[p] = o;
        kept.set(o, kept.get(o)! + 1);
      }
    }
    // Full workers take nothing new: their unused quota goes to the others, least loaded first.
    const open = workers.filter((x) => !full.has(x));
    for (const x of full) if (quota.has(x)) quota.set(x, kept.get(x)!);
    for (let p = 0; p < spec.partitions; p++) {
      if (owners[p] !== null || open.length === 0) continue;
      let target = open.find((x) => kept.get(x)! < quota.get(x)!);
      if (target === undefined) target = [...open].sort((a, b) => kept.get(a)! - kept.get(b)! || cmp(a, b))[0]!;
      owners[p] = target;
      kept.set(target, kept.get(target)! + 1);
    }
    for (const [worker, n] of kept) load.set(worker, (load.get(worker) ?? 0) + n);
    out[spec.job] = owners;
  }
  return out;
}

/** Partitions whose owner changed between two assignments (a live owner handing over, or a dead one). */
export function movedPartitions(before: Owners, after: Owners): { job: string; partition: number; from: string | null; to: string | null }[] {
  const moves: { job: string; partition: number; from: string | null; to: string | null }[] = [];
  for (const job of Object.keys(after).sort(cmp)) {
    const a = after[job]!;
    const b = before[job] ?? [];
    for (let p = 0; p < a.length; p++) if ((b[p] ?? null) !== a[p]) moves.push({ job, partition: p, from: b[p] ?? null, to: a[p] ?? null });
  }
  return moves;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
