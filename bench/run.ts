// `npm run bench [-- <scenario>...]`: runs every scenario (or the named ones), prints its figures,
// records each run in bench/results.json as it ends, then renders bench/RESULTS.md from that file.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { findNatsServerBinary } from '../cluster/nats-server.ts';
import { writeResultsDocument } from './render-results.ts';
import { recordRun, type Machine } from './results-file.ts';
import { PLANNED_SCENARIOS, SCENARIOS } from './scenario.ts';

// Scenario names; options of a scenario (`--minutes 20`) are its own to read.
const only = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
const unknown = only.filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length > 0) {
  process.stderr.write(`bench: no scenario named ${unknown.join(', ')}; the scenarios are: ${SCENARIOS.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}

function natsServerVersion(): string {
  try {
    const text = execFileSync(findNatsServerBinary(), ['--version'], { encoding: 'utf8' });
    return /v\d+\.\d+\.\d+\S*/.exec(text)?.[0] ?? text.trim();
  } catch {
    return 'not installed';
  }
}

const machine: Machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model.trim() ?? 'unknown cpu',
  memory_gb: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  nats_server: natsServerVersion(),
};

const log = (line: string) => process.stdout.write(`  ${line}\n`);
const resultsPath = join(import.meta.dirname, 'results.json');
process.stdout.write(`shardflow bench — node ${machine.node}, ${machine.cores} cores (${machine.cpu}), nats-server ${machine.nats_server}\n`);
let recorded = 0;
for (const scenario of SCENARIOS) {
  if (only.length > 0 ? !only.includes(scenario.name) : scenario.optIn) continue;
  process.stdout.write(`${scenario.name}\n`);
  const at = new Date().toISOString();
  const outcome = await scenario.run(log);
  const figures = Array.isArray(outcome) ? outcome : outcome.figures;
  const series = Array.isArray(outcome) ? undefined : outcome.series;
  const described = new Set(scenario.figures.map((f) => f.name));
  for (const f of figures) if (!described.has(f.name)) log(`note: ${f.name} is not described in the scenario's exported figures; RESULTS.md shows it without a label`);
  // Recorded as each scenario ends, so a later scenario that fails does not lose the earlier runs.
  recordRun(resultsPath, scenario.name, { command: `npm run bench -- ${scenario.name}`, at, machine, figures, ...(series ? { series } : {}) });
  recorded += figures.length;
}
const document = writeResultsDocument(import.meta.dirname, { scenarios: SCENARIOS, planned: PLANNED_SCENARIOS });
process.stdout.write(`${recorded} figures written to bench/results.json; ${document} rendered\n`);
