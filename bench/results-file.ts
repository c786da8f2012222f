// bench/results.json: every figure of the latest runs as [{name, value, unit}], one entry per name,
// so a script can compare two runs. Each scenario replaces its own figures and keeps the others.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export interface Figure {
  name: string;
  value: number;
  unit: string;
}

export function mergeFigures(path: string, figures: Figure[]): Figure[] {
  const existing: Figure[] = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Figure[]) : [];
  const byName = new Map(existing.map((f) => [f.name, f]));
  for (const f of figures) byName.set(f.name, f);
  const merged = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  writeFileSync(path, JSON.stringify(merged, null, 2) + '\n');
  return merged;
}
