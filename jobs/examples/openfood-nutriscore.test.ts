import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.ts';
import type { WindowResult } from '../../engine/records.ts';
import { runLocal } from '../local-runner.ts';
import { openfoodNutriscore } from './openfood-nutriscore.ts';
import { productGenerator } from './openfood-products.ts';

const START = Date.UTC(2026, 4, 12, 9, 58, 40);
const INGEST = START + 3_600_000;
const MINUTE = 60_000;

function generate(seed: number, n: number, dirtyShare?: number): string[] {
  const random = seededRandom(seed);
  const gen = dirtyShare === undefined ? openfoodNutriscore.generate! : productGenerator({ dirtyShare });
  return Array.from({ length: n }, (_, i) => gen(random, i, START));
}

type Good = { grade: string; t: number; energy: number | undefined; category: string };

/** Independent oracle of the validation: the expected dead-letter reason of each line, or the product. */
function classify(raw: string): string | Good {
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(raw);
  } catch {
    return 'malformed-json';
  }
  const grade = typeof p.nutriscore_grade === 'string' ? p.nutriscore_grade.trim().toLowerCase() : '';
  const energy = p.energy_100g;
  const energyOk = energy === undefined || energy === null || (typeof energy === 'number' && energy >= 0 && energy <= 3_900);
  if (typeof p.product_name !== 'string' || p.product_name.trim() === '' || !['a', 'b', 'c', 'd', 'e'].includes(grade) || !energyOk) return 'schema-violation';
  if (p.ts === undefined) return 'missing-event-time';
  if (typeof p.ts !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(p.ts)) return 'invalid-event-time';
  const t = Date.parse(p.ts);
  if (t > INGEST + 86_400_000) return 'event-time-out-of-range';
  const category = typeof p.categories === 'string' ? p.categories.split(',')[0]!.trim() : '(no category)';
  return { grade, t, energy: typeof energy === 'number' ? energy : undefined, category };
}

describe('the openfood-nutriscore job (seed 001, per grade)', () => {
  it('counts the products of each grade in every 5-minute window sliding by a minute, as plain loops over them do', () => {
    const raws = generate(1, 5_000);
    const run = runLocal(openfoodNutriscore, raws, { ingestTime: () => INGEST });

    const windows = new Map<string, { n: number; energy: number; withEnergy: number; categories: Map<string, number> }>();
    let good = 0;
    for (const raw of raws) {
      const p = classify(raw);
      if (typeof p === 'string') continue;
      good++;
      const lastStart = p.t - (p.t % MINUTE);
      for (let start = lastStart - 4 * MINUTE; start <= lastStart; start += MINUTE) {
        const id = `${p.grade}|${start}`;
        const w = windows.get(id) ?? { n: 0, energy: 0, withEnergy: 0, categories: new Map() };
        w.n++;
        if (p.energy !== undefined) {
          w.energy += p.energy;
          w.withEnergy++;
        }
        w.categories.set(p.category, (w.categories.get(p.category) ?? 0) + 1);
        windows.set(id, w);
      }
    }

    expect(run.records.filter((r) => r.type !== 'result')).toEqual([]); // within the 30 s bound: none late
    const results = run.records.filter((r): r is WindowResult & { partition: number } => r.type === 'result');
    const got = new Map(results.map((r) => [`${r.key}|${r.start}`, r]));
    expect(got.size).toBe(results.length);
    expect([...got.keys()].sort()).toEqual([...windows.keys()].sort());
    for (const [id, w] of windows) {
      const r = got.get(id)!;
      expect(r.end - r.start).toBe(5 * MINUTE);
      expect(r.values.products, id).toBe(w.n);
      expect(r.values.avg_energy_100g as number).toBeCloseTo(w.energy / w.withEnergy, 9);
      const top = [...w.categories].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3);
      expect(r.values.top_categories).toEqual(top.map(([value, count]) => ({ value, count })));
    }
    // Each product lies in five windows; those of the first and last minutes reach past the data.
    const perProduct = results.reduce((n, r) => n + (r.values.products as number), 0);
    expect(perProduct).toBe(5 * good);
    expect(new Set(results.map((r) => r.key))).toEqual(new Set(['a', 'b', 'c', 'd', 'e'])); // upper case and padding normalized
  });

  it('dead-letters every dirty record with the right reason and keeps every good one', () => {
    const raws = generate(4, 3_000, 0.15);
    const run = runLocal(openfoodNutriscore, raws, { ingestTime: () => INGEST });
    const expected = new Map<number, string>();
    raws.forEach((raw, i) => {
      const p = classify(raw);
      if (typeof p === 'string') expected.set(i, p);
    });
    expect(new Map(run.deadLetters.map((d) => [d.position, d.reason]))).toEqual(expected);
    expect(new Set(expected.values())).toEqual(new Set(['malformed-json', 'schema-violation', 'missing-event-time', 'invalid-event-time', 'event-time-out-of-range']));
    const messages = run.deadLetters.map((d) => d.message).join('\n');
    expect(messages).toContain('nutriscore_grade: must be a Nutri-Score grade a, b, c, d or e (any case)');
    expect(messages).toContain('energy_100g: must be the energy in kJ per 100 g, a number from 0 to 3900');
    expect(messages).toContain('product_name: is required');
    const counted = run.records.reduce((n, r) => n + (r.type === 'result' ? (r.values.products as number) : 0), 0);
    expect(counted).toBe(5 * (raws.length - expected.size));
  });

  it('gives the same output for the same seed', () => {
    const once = runLocal(openfoodNutriscore, generate(9, 2_000), { ingestTime: () => INGEST });
    expect(runLocal(openfoodNutriscore, generate(9, 2_000), { ingestTime: () => INGEST })).toEqual(once);
    expect(runLocal(openfoodNutriscore, generate(10, 2_000), { ingestTime: () => INGEST }).records).not.toEqual(once.records);
  });
});
