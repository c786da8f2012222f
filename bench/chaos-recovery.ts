// Scenario: recovery time per chaos scenario. Each scenario of `shardflow chaos` runs on a fresh local
// cluster (2 coordinators, 5 workers, 200 events/s, seed 1) for 30 s (mixed: 60 s); the figures are the
// median and the largest recovery of its faults, and whether the verdict was exact (1) or not (0).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recoveryStats } from '../chaos/report.ts';
import { runChaos } from '../chaos/run.ts';
import { SCENARIO_NAMES } from '../chaos/scenarios.ts';
import { childEnvironment, loadConfig } from '../common/config.ts';
import { createFileLogger } from '../common/logger.ts';
import type { Figure } from './results-file.ts';

export async function chaosRecovery(log: (line: string) => void): Promise<Figure[]> {
  const config = loadConfig({});
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-bench-chaos-'));
  const figures: Figure[] = [];
  try {
    for (const scenario of SCENARIO_NAMES) {
      const dataDir = join(dir, scenario);
      const report = await runChaos({
        scenario,
        durationS: scenario === 'mixed' ? 60 : 30,
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
