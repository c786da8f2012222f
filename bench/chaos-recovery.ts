// Scenario: recovery time per chaos scenario. Each scenario of `shardflow chaos` runs on a fresh local
// cluster (2 coordinators, 5 workers, 200 events/s, seed 1) for 30 s (mixed: 60 s); the figures are the
// median and the largest recovery of its faults, and whether the verdict was exact (1) or not (0).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recoveryStats, type ChaosReport } from '../chaos/report.ts';
import { runChaos } from '../chaos/run.ts';
import { SCENARIO_NAMES, SCENARIOS, type ScenarioName } from '../chaos/scenarios.ts';
import { childEnvironment, loadConfig, type Config } from '../common/config.ts';
import { createFileLogger } from '../common/logger.ts';
import type { Figure } from './results-file.ts';
import type { Scenario } from './scenario.ts';

/** One chaos run as the benchmarks make them: 2 coordinators, 5 workers, 200 events/s, seed 1, a
 *  minute to drain, its log in the run's folder. */
export function benchChaosRun(scenario: ScenarioName, durationS: number, dataDir: string, config: Config): Promise<ChaosReport> {
  return runChaos({
    scenario,
    durationS,
    seed: 1,
    rate: 200,
    workers: 5,
    coordinators: 2,
    dataDir,
    drainS: 60,
    config,
    log: createFileLogger('chaos', 'info', join(dataDir, 'logs', 'chaos.log')),
    env: childEnvironment(),
  });
}

export async function chaosRecovery(log: (line: string) => void): Promise<Figure[]> {
  const config = loadConfig({});
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-bench-chaos-'));
  const figures: Figure[] = [];
  try {
    for (const scenario of SCENARIO_NAMES) {
      const dataDir = join(dir, scenario);
      const report = await benchChaosRun(scenario, scenario === 'mixed' ? 60 : 30, dataDir, config);
      const stats = recoveryStats(report.faults);
      log(
        `${scenario}: ${report.faults.length} faults, recovery median ${stats.medianMs ?? '-'} ms, max ${stats.maxMs ?? '-'} ms; ` +
          `${report.verdict.results.expected} windows, ${report.verdict.exact ? 'exact' : 'NOT EXACT'}`,
      );
      figures.push(
        { name: `chaos.${scenario}.recovery_median_ms`, value: stats.medianMs ?? -1, unit: 'ms' },
        { name: `chaos.${scenario}.recovery_max_ms`, value: stats.maxMs ?? -1, unit: 'ms' },
        { name: `chaos.${scenario}.faults`, value: report.faults.length, unit: 'faults' },
        { name: `chaos.${scenario}.exact`, value: report.verdict.exact ? 1 : 0, unit: 'bool' },
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

export const chaosRecoveryScenario: Scenario = {
  name: 'chaos-recovery',
  title: 'Recovery per chaos scenario',
  description:
    'Each scenario of `shardflow chaos` runs on a fresh local cluster: 2 coordinators, 5 workers, the chaos job fed ' +
    'at 200 events/s, seed 1, 30 s of faults (mixed: 60 s), default timing (heartbeat 250 ms, worker timeout 1 s, ' +
    'leader lease 1.5 s), checkpoints every 250 ms; then the verdict against the oracle.\n\n' +
    SCENARIO_NAMES.map((name) => `- \`${name}\`: ${SCENARIOS[name].description}\n`).join('') +
    '\nA fault has recovered when the cluster has a leader (a newly elected one when the fault took the leader) and ' +
    'every partition has a checkpoint, by an owner, covering a message stored after the fault took effect: read ' +
    'from durable state, not from what processes say. A killed or paused worker is declared dead after the 1 s ' +
    'worker timeout, then its partitions are claimed and restored elsewhere and checkpoint their next message. A ' +
    'leader kill leaves processing untouched; its time is the 1.5 s lease before the standby takes over. A graceful ' +
    'restart includes the stop (checkpoint, release) and the start of a new Node process. A NATS node loss is the ' +
    'slowest: the streams and buckets whose raft leader was on the dead node elect a new one (nats-server\'s ' +
    'election timeouts are several seconds), and consumers whose server died may stall without an error until the ' +
    'partition\'s stall check restarts them. Faults that overlap recover together, so mixed shows longer times. For ' +
    'scale: Spark declares a worker lost after 60 s, Flink after a 50 s heartbeat timeout, Kafka Streams rebalances ' +
    'after a 45 s session timeout; all three leave checking the results after a fault to you.',
  figures: SCENARIO_NAMES.flatMap((name) => [
    { name: `chaos.${name}.faults`, unit: 'faults', label: `${name}: faults injected` },
    { name: `chaos.${name}.recovery_median_ms`, unit: 'ms', label: `${name}: recovery, median` },
    { name: `chaos.${name}.recovery_max_ms`, unit: 'ms', label: `${name}: recovery, max` },
    { name: `chaos.${name}.exact`, unit: 'bool', label: `${name}: every result exact` },
  ]),
  run: chaosRecovery,
};
