import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.ts';
import type { WindowResult } from '../../engine/records.ts';
import { runLocal } from '../local-runner.ts';
import { openfoodBrands } from './openfood-brands.ts';

const START = Date.UTC(2026, 4, 12, 23, 57, 10);
const INGEST = START + 3_600_000;
const MINUTE = 60_000;

function generate(seed: number, n: number): string[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => openfoodBrands.generate!(random, i, START));
}

/** Independent oracle: the clean products by owner brand, or undefined for a line that must be dead-lettered. */
function parse(raw: string): { brand: string; grade: string; t: number; energy: number | undefined } | undefined {
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const grade = typeof p.nutriscore_grade === 'string' ? p.nutriscore_grade.trim().toLowerCase() : '';
  const energy = p.energy_100g;
  if (typeof p.product_name !== 'string' || !/^[a-e]$/.test(grade)) return undefined;
  if (energy !== undefined && energy !== null && !(typeof energy === 'number' && energy >= 0 && energy <= 3_900)) return undefined;
  if (typeof p.ts !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(p.ts) || Date.parse(p.ts) > INGEST + 86_400_000) return undefined;
  const brand = typeof p.brands === 'string' ? p.brands.split(',')[0]!.trim() : '(no brand)';
  return { brand, grade, t: Date.parse(p.ts), energy: typeof energy === 'number' ? energy : undefined };
}

describe('the openfood-brands job (seed 001, per brand)', () => {
  it('counts the products of each owner brand and their grades in every sliding window, as plain loops do', () => {
    const raws = generate(2, 5_000);
    const run = runLocal(openfoodBrands, raws, { ingestTime: () => INGEST });

    const windows = new Map<string, { n: number; energy: number; withEnergy: number; grades: Record<string, number> }>();
    let good = 0;
    for (const raw of raws) {
      const p = parse(raw);
      if (p === undefined) continue;
      good++;
      const lastStart = p.t - (p.t % MINUTE);
      for (let start = lastStart - 4 * MINUTE; start <= lastStart; start += MINUTE) {
        const id = `${p.brand}|${start}`;
        const w = windows.get(id) ?? { n: 0, energy: 0, withEnergy: 0, grades: {} };
        w.n++;
        if (p.energy !== undefined) {
          w.energy += p.energy;
          w.withEnergy++;
        }
        w.grades[p.grade] = (w.grades[p.grade] ?? 0) + 1;
        windows.set(id, w);
      }
    }

    expect(run.deadLetters.length).toBe(raws.length - good);
    expect(run.records.filter((r) => r.type !== 'result')).toEqual([]);
    const results = run.records.filter((r): r is WindowResult & { partition: number } => r.type === 'result');
    const got = new Map(results.map((r) => [`${r.key}|${r.start}`, r]));
    expect(got.size).toBe(results.length);
    expect([...got.keys()].sort()).toEqual([...windows.keys()].sort());
    for (const [id, w] of windows) {
      const r = got.get(id)!;
      expect(r.values.products, id).toBe(w.n);
      if (w.withEnergy === 0) expect(r.values.avg_energy_100g).toBeNull();
      else expect(r.values.avg_energy_100g as number).toBeCloseTo(w.energy / w.withEnergy, 9);
      expect(r.values.grades).toEqual(w.grades);
      expect(Object.keys(r.values.grades as object)).toEqual(Object.keys(w.grades).sort());
    }
    const keys = new Set(results.map((r) => r.key));
    expect(keys.has('Ferrero')).toBe(true); // "Ferrero, Nutella" counts for its owner brand
    expect(keys.has('Nutella')).toBe(false);
    expect(keys.has('(no brand)')).toBe(true); // kept, as Spark's groupBy keeps its null group
    // The run crosses midnight: windows are aligned to the minute whatever the day.
    expect(new Set(results.map((r) => new Date(r.start).getUTCDate())).size).toBe(2);
  });

  it('spreads the brands over its partitions', () => {
    const run = runLocal(openfoodBrands, generate(2, 2_000), { ingestTime: () => INGEST });
    expect(new Set(run.records.map((r) => r.partition)).size).toBeGreaterThanOrEqual(10);
  });
});
