// `shardflow chaos`: break a fresh local cluster on purpose and prove the results are still exact.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../../common/config.ts';
import { ShardflowError } from '../../common/errors.ts';
import { createFileLogger } from '../../common/logger.ts';
import { renderHtml, renderSummary, runPassed } from '../../chaos/report.ts';
import { virtualHostsUnavailable } from '../../cluster/virtual-hosts.ts';
import { runChaos } from '../../chaos/run.ts';
import { HOST_SCENARIO_NAMES, isScenarioName, SCENARIO_NAMES, SCENARIOS } from '../../chaos/scenarios.ts';

export const CHAOS_HELP = `Usage: shardflow chaos --scenario NAME [--duration S] [--seed N] [--report FILE]
                       [--rate R] [--workers N] [--coordinators N] [--drain S]

Starts a local cluster in a fresh folder (<SHARDFLOW_DATA_DIR>/chaos/<scenario>-<time>), feeds the chaos
job (keyed count and sum in 1 s windows, 1% broken records) live, injects the scenario's faults on a
schedule drawn from the seed, stops the producer, waits for the job to drain, and checks the results,
the late side output and the dead letters against an oracle computed from the input log. Prints the
verdict and the recovery time of every fault; writes the report as JSON and as an HTML page with a
timeline. Exit code 0 only when the results are exact (and, on hosts, no two leaders acted in one term
and no fenced owner wrote a checkpoint), 1 when not.

Scenarios:
${SCENARIO_NAMES.map((n) => `  ${n.padEnd(18)} ${SCENARIOS[n].description}`).join('\n')}

On a multi-host cluster of 3 network namespaces (root only; each host runs a NATS node, c1 and c2
on h1 and h2, workers round robin; the report adds the leaders per term and the fencing check):
${HOST_SCENARIO_NAMES.map((n) => `  ${n.padEnd(18)} ${SCENARIOS[n].description}`).join('\n')}

  --scenario NAME    one of the above (required)
  --duration S       seconds of producing and faults (default 60)
  --seed N           seed of the schedule, the victims and the input (default 1)
  --report FILE      where the JSON report goes (default report.json in the run's folder); the HTML
                     page is written next to it with the extension .html
  --rate R           events per second (default 200)
  --workers N        workers at the start (default 5)
  --coordinators N   coordinators (default 2)
  --drain S          seconds to wait after the producer stops for the results to be exact (default 60)`;

export interface ChaosCommandOptions {
  scenario: string | undefined;
  durationS: number;
  seed: number;
  report: string | undefined;
  rate: number;
  workers: number;
  coordinators: number;
  drainS: number;
}

export async function chaosCommand(options: ChaosCommandOptions, config: Config, env: Record<string, string>): Promise<number> {
  const { scenario } = options;
  if (scenario === undefined || !isScenarioName(scenario)) {
    throw new ShardflowError('CONFIG_INVALID', `${scenario === undefined ? '--scenario is required' : `there is no scenario "${scenario}"`}; one of: ${[...SCENARIO_NAMES, ...HOST_SCENARIO_NAMES].join(', ')}`);
  }
  const noHosts = SCENARIOS[scenario].hosts ? virtualHostsUnavailable() : undefined;
  if (noHosts) throw new ShardflowError('CONFIG_INVALID', `scenario ${scenario} runs on virtual hosts, and ${noHosts}`);
  if (options.durationS < 2) throw new ShardflowError('CONFIG_INVALID', '--duration must be at least 2 seconds');
  if (options.workers < 2) throw new ShardflowError('CONFIG_INVALID', '--workers must be at least 2: a fault must leave someone to take over');
  if (options.coordinators < 1) throw new ShardflowError('CONFIG_INVALID', '--coordinators must be at least 1');
  if (options.rate < 1) throw new ShardflowError('CONFIG_INVALID', '--rate must be at least 1 event per second');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dataDir = join(config.DATA_DIR, 'chaos', `${scenario}-${stamp}`);
  const reportFile = options.report ?? join(dataDir, 'report.json');
  // The terminal shows progress lines; the launcher's own log goes next to the processes' logs.
  const log = createFileLogger('chaos', config.LOG_LEVEL, join(dataDir, 'logs', 'chaos.log'));
  const began = Date.now();
  const report = await runChaos({
    scenario,
    durationS: options.durationS,
    seed: options.seed,
    rate: options.rate,
    workers: options.workers,
    coordinators: options.coordinators,
    dataDir,
    drainS: options.drainS,
    config,
    log,
    env,
    progress: (line) => process.stdout.write(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}\n`),
  });
  mkdirSync(dirname(reportFile), { recursive: true });
  writeFileSync(reportFile, JSON.stringify(report, null, 2) + '\n');
  const htmlFile = reportFile.replace(/\.json$/, '') + '.html';
  writeFileSync(htmlFile, renderHtml(report));
  process.stdout.write(`\n${renderSummary(report)}\n  report         ${reportFile}\n                 ${htmlFile}\n`);
  return runPassed(report) ? 0 : 1;
}
