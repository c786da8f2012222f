// Oracles of the two Open Food Facts jobs (seed 001), which share their input and its validation:
// openfood-nutriscore (per grade) and openfood-brands (per owner brand), both in windows of 5 minutes
// sliding by 1 minute: product count, mean energy per 100 g, and the top categories or the grades.
import { eventTimeOf, mean, MINUTE, parseJson, topEntries, windowId, type Aggregates, type SeedExpectation } from './oracle.ts';

const GRADES = ['a', 'b', 'c', 'd', 'e'];
/** kJ per 100 g above which a value is a unit mix-up, not food. */
const MAX_ENERGY = 3_900;
const SIZE = 5 * MINUTE;

export type Product = { grade: string; t: number; energy: number | undefined; brand: string; category: string };

/** The expected dead-letter reason of a raw product line, or the product. */
export function classifyProduct(raw: string, ingestTime: number): string | Product {
  const p = parseJson(raw);
  if (p === undefined) return 'malformed-json';
  const { code, product_name: name, brands, categories, nutriscore_grade: rawGrade, energy_100g: energy, ts } = p;
  const grade = typeof rawGrade === 'string' ? rawGrade.trim().toLowerCase() : '';
  const energyOk = energy === undefined || energy === null || (typeof energy === 'number' && energy >= 0 && energy <= MAX_ENERGY);
  const textOk = (v: unknown, max: number) => v === undefined || (typeof v === 'string' && v.length <= max);
  const nameOk = typeof name === 'string' && name.trim() !== '' && name.trim().length <= 500;
  if (!nameOk || !GRADES.includes(grade) || !energyOk || !textOk(code, 64) || !textOk(brands, 500) || !textOk(categories, 2_000)) return 'schema-violation';
  if (ts !== undefined && !(typeof ts === 'string' && ts.length <= 64) && typeof ts !== 'number') return 'schema-violation';
  const t = eventTimeOf(ts, ingestTime);
  if (typeof t === 'string') return t;
  const firstOf = (list: unknown, none: string) => (typeof list === 'string' ? list.split(',')[0]!.trim() : '') || none;
  return { grade, t, energy: typeof energy === 'number' ? energy : undefined, brand: firstOf(brands, '(no brand)'), category: firstOf(categories, '(no category)') };
}

type Window = { n: number; energy: number; withEnergy: number; tally: Map<string, number> };

/** Every product in the five windows that contain it, keyed by `keyOf`, tallying `tallyOf`. */
function slidingWindows(raws: readonly string[], ingestTime: number, keyOf: (p: Product) => string, tallyOf: (p: Product) => string) {
  const deadLetters = new Map<number, string>();
  const windows = new Map<string, Window>();
  raws.forEach((raw, position) => {
    const p = classifyProduct(raw, ingestTime);
    if (typeof p === 'string') {
      deadLetters.set(position, p);
      return;
    }
    const lastStart = p.t - (p.t % MINUTE);
    for (let start = lastStart - SIZE + MINUTE; start <= lastStart; start += MINUTE) {
      const id = windowId(keyOf(p), start, start + SIZE);
      const w = windows.get(id) ?? { n: 0, energy: 0, withEnergy: 0, tally: new Map() };
      w.n++;
      if (p.energy !== undefined) {
        w.energy += p.energy;
        w.withEnergy++;
      }
      w.tally.set(tallyOf(p), (w.tally.get(tallyOf(p)) ?? 0) + 1);
      windows.set(id, w);
    }
  });
  return { deadLetters, windows };
}

export function openfoodNutriscoreOracle(raws: readonly string[], ingestTime: number): SeedExpectation {
  const { deadLetters, windows } = slidingWindows(raws, ingestTime, (p) => p.grade, (p) => p.category);
  const rows = new Map<string, Aggregates>();
  for (const [id, w] of windows) rows.set(id, { products: w.n, avg_energy_100g: mean(w.energy, w.withEnergy), top_categories: topEntries(w.tally, 3) });
  return { rows, deadLetters };
}

export function openfoodBrandsOracle(raws: readonly string[], ingestTime: number): SeedExpectation {
  const { deadLetters, windows } = slidingWindows(raws, ingestTime, (p) => p.brand, (p) => p.grade);
  const rows = new Map<string, Aggregates>();
  for (const [id, w] of windows) rows.set(id, { products: w.n, avg_energy_100g: mean(w.energy, w.withEnergy), grades: Object.fromEntries([...w.tally].sort(([a], [b]) => (a < b ? -1 : 1))) });
  return { rows, deadLetters };
}
