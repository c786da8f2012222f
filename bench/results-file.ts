// bench/results.json: the latest run of each scenario, with the command that made it, when, on what
// machine, and its figures, so a script can compare runs and bench/RESULTS.md can be rendered from it.
// A scenario's run replaces that scenario's entry and keeps the others.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

export interface Figure {
  name: string;
  value: number;
  unit: string;
}

export interface Machine {
  cores: number;
  /** Model of the first core, as the OS reports it. */
  cpu: string;
  /** Total memory, GiB, rounded. */
  memory_gb: number;
  /** `process.version`, e.g. "v20.20.2". */
  node: string;
  /** From `nats-server --version`, e.g. "v2.9.10". */
  nats_server: string;
}

/** Values sampled over a run (a soak's store size, a worker's memory): [seconds since the start, value]. */
export interface Series {
  name: string;
  unit: string;
  points: [number, number][];
}

export interface ScenarioRun {
  command: string;
  /** ISO-8601 instant the run started. */
  at: string;
  machine: Machine;
  figures: Figure[];
  series?: Series[];
}

export interface ResultsFile {
  /** By scenario name, as `npm run bench -- <name>` takes it. */
  runs: Record<string, ScenarioRun>;
}

const figureSchema = z.strictObject({ name: z.string().min(1), value: z.number(), unit: z.string() });
const resultsSchema = z.strictObject({
  runs: z.record(
    z.string(),
    z.strictObject({
      command: z.string(),
      at: z.iso.datetime(),
      machine: z.strictObject({ cores: z.number(), cpu: z.string(), memory_gb: z.number(), node: z.string(), nats_server: z.string() }),
      figures: z.array(figureSchema),
      series: z.array(z.strictObject({ name: z.string().min(1), unit: z.string(), points: z.array(z.tuple([z.number(), z.number()])) })).optional(),
    }),
  ),
});

/** The file's runs; none when it does not exist yet. */
export function readResults(path: string): ResultsFile {
  if (!existsSync(path)) return { runs: {} };
  const parsed = resultsSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`);
    // A bench tool's own file: there is no ShardflowError code for it, and the message says what to do.
    throw new Error(`${path} is not a results file of this version ({ "runs": { "<scenario>": { command, at, machine, figures } } }): ${issues.join('; ')}; fix it or delete it and run the scenarios again`);
  }
  return parsed.data;
}

/** Records one scenario's run in the file, keeping the other scenarios' runs. */
export function recordRun(path: string, scenario: string, run: ScenarioRun): ResultsFile {
  const file = readResults(path);
  file.runs[scenario] = run;
  writeFileSync(path, formatResults(file));
  return file;
}

/** The file's text: scenarios and figures sorted by name, so two runs diff line by line. */
export function formatResults(file: ResultsFile): string {
  const runs: Record<string, ScenarioRun> = {};
  for (const scenario of Object.keys(file.runs).sort()) {
    const { command, at, machine, figures, series } = file.runs[scenario]!;
    runs[scenario] = {
      command,
      at,
      machine: { cores: machine.cores, cpu: machine.cpu, memory_gb: machine.memory_gb, node: machine.node, nats_server: machine.nats_server },
      figures: [...figures].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(({ name, value, unit }) => ({ name, value, unit })),
      ...(series ? { series: series.map(({ name, unit, points }) => ({ name, unit, points })) } : {}),
    };
  }
  return JSON.stringify({ runs }, null, 2) + '\n';
}
