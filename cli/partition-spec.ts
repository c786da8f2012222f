// Parses a partition list such as "0-3,8,10-11" ("all" or empty: every partition).
import { ShardflowError } from '../common/errors.ts';

export function parsePartitions(spec: string | undefined, count: number): number[] {
  if (spec === undefined || spec === '' || spec === 'all') return Array.from({ length: count }, (_, i) => i);
  const out = new Set<number>();
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    const lo = m ? Number(m[1]) : NaN;
    const hi = m ? Number(m[2] ?? m[1]) : NaN;
    if (!m || lo > hi || hi >= count) {
      throw new ShardflowError('CONFIG_INVALID', `--partitions "${spec}": "${part}" is not a partition or range of 0..${count - 1}; write e.g. "0-3,8"`);
    }
    for (let p = lo; p <= hi; p++) out.add(p);
  }
  return [...out].sort((a, b) => a - b);
}
