// The fewest partition moves any balanced assignment needs after a membership change: partitions of
// workers that left, plus what survivors hold above the largest quota they could be given.

export function minimumMoves(before: readonly (string | null)[], workers: readonly string[], partitions: number): number {
  if (workers.length === 0) return before.filter((o) => o !== null).length;
  const base = Math.floor(partitions / workers.length);
  const extra = partitions % workers.length;
  const held = workers.map((w) => before.filter((o) => o === w).length).sort((a, b) => b - a);
  let keep = 0;
  held.forEach((h, i) => (keep += Math.min(h, base + (i < extra ? 1 : 0))));
  return partitions - keep;
}
