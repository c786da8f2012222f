// `npm run bench`: runs every scenario, prints its figures, and records them in bench/results.json.
import { cpus } from 'node:os';
import { join } from 'node:path';
import { chaosRecovery } from './chaos-recovery.ts';
import { clusterThroughput } from './cluster-throughput.ts';
import { engineSnapshot } from './engine-snapshot.ts';
import { engineWindows } from './engine-windows.ts';
import { mergeFigures, type Figure } from './results-file.ts';
import { recovery } from './recovery.ts';
import { resultLatency } from './result-latency.ts';
import { sinkThroughput } from './sink-throughput.ts';

const scenarios: [string, (log: (line: string) => void) => Figure[] | Promise<Figure[]>][] = [
  ['engine-windows', engineWindows],
  ['engine-snapshot', engineSnapshot],
  ['cluster-throughput', clusterThroughput],
  ['result-latency', resultLatency],
  ['recovery', recovery],
  ['sink-throughput', sinkThroughput],
  ['chaos-recovery', chaosRecovery],
];

const only = process.argv.slice(2);
const log = (line: string) => process.stdout.write(`  ${line}\n`);
process.stdout.write(`shardflow bench — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'})\n`);
const figures: Figure[] = [];
for (const [name, scenario] of scenarios) {
  if (only.length > 0 && !only.includes(name)) continue;
  process.stdout.write(`${name}\n`);
  figures.push(...(await scenario(log)));
}
const path = join(import.meta.dirname, 'results.json');
mergeFigures(path, figures);
process.stdout.write(`${figures.length} figures written to bench/results.json\n`);
