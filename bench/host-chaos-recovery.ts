// Scenario: recovery per network fault on a cluster of 3 hosts (network namespaces on a bridge, one
// NATS node each, c1 and c2 on h1 and h2, workers round robin). Each scenario of `shardflow chaos`
// that runs on hosts runs on a fresh cluster (2 coordinators, 5 workers, 200 events/s, seed 1, 40 s);
// the figures are the median and largest recovery of its faults, whether the verdict was exact, and
// the terms in which two leaders acted (must be 0). Needs root; elsewhere it says why and records
// nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recoveryStats, runPassed } from '../chaos/report.ts';
import { SCENARIOS, type HostScenarioName } from '../chaos/scenarios.ts';
import { virtualHostsUnavailable } from '../cluster/virtual-hosts.ts';
import { loadConfig } from '../common/config.ts';
import { benchChaosRun } from './chaos-recovery.ts';
import type { Figure } from './results-file.ts';
import type { Scenario } from './scenario.ts';

const MEASURED: readonly HostScenarioName[] = ['host-kill', 'network-partition', 'slow-network', 'clock-skew'];
const DURATION_S = 40;

export async function hostChaosRecovery(log: (line: string) => void): Promise<Figure[]> {
  const unavailable = virtualHostsUnavailable();
  if (unavailable) {
    log(`skipped: ${unavailable}`);
    return [];
  }
  const config = loadConfig({});
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-bench-hosts-'));
  const figures: Figure[] = [];
  // A run that did not pass keeps its folder (logs, report.json) for a person to read.
  let keep = false;
  try {
    for (const scenario of MEASURED) {
      const dataDir = join(dir, scenario);
      const report = await benchChaosRun(scenario, DURATION_S, dataDir, config);
      writeFileSync(join(dataDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
      if (!runPassed(report)) {
        keep = true;
        log(`${scenario} did not pass: its logs and report are kept in ${dataDir}`);
      }
      const stats = recoveryStats(report.faults);
      const conflicts = report.leaderTerms?.conflicts.length ?? 0;
      log(
        `${scenario}: ${report.faults.length} faults, recovery median ${stats.medianMs ?? '-'} ms, max ${stats.maxMs ?? '-'} ms; ` +
          `${report.verdict.results.expected} windows, ${report.verdict.exact ? 'exact' : 'NOT EXACT'}; ${conflicts} split-brain terms; ${runPassed(report) ? 'passed' : 'FAILED'}`,
      );
      figures.push(
        { name: `hosts.${scenario}.recovery_median_ms`, value: stats.medianMs ?? -1, unit: 'ms' },
        { name: `hosts.${scenario}.recovery_max_ms`, value: stats.maxMs ?? -1, unit: 'ms' },
        { name: `hosts.${scenario}.faults`, value: report.faults.length, unit: 'faults' },
        { name: `hosts.${scenario}.exact`, value: runPassed(report) ? 1 : 0, unit: 'bool' },
        { name: `hosts.${scenario}.split_brain_terms`, value: conflicts, unit: 'terms' },
      );
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

export const hostChaosRecoveryScenario: Scenario = {
  name: 'host-chaos',
  title: 'Recovery per network fault, on 3 hosts',
  description:
    'The cluster runs on 3 hosts made as Linux network namespaces on a private bridge (10.203.k.0/24): a clustered ' +
    'NATS node on each (streams and buckets with 3 replicas), coordinators c1 and c2 on h1 and h2, workers w1..w5 ' +
    'round robin over h1, h2, h3; every process talks over the hosts\' addresses. Each scenario runs on a fresh ' +
    `cluster, the chaos job fed at 200 events/s, seed 1, ${DURATION_S} s of faults, then the verdict against the ` +
    'oracle, plus two checks of its own: no two coordinators acted as leader in one term (from their logs), and no ' +
    'checkpoint went back to an older lease epoch (a fenced owner writing); `exact` is 1 only when all hold.\n\n' +
    MEASURED.map((name) => `- \`${name}\`: ${SCENARIOS[name].description}\n`).join('') +
    '\nRecovery is measured as in the chaos-recovery scenario (a leader, and every partition checkpointed past a ' +
    'message stored after the fault). A host loss or a partition takes a NATS node with it: the raft groups whose ' +
    'leader was there elect another (seconds on nats-server 2.9), and clients connected across a cut notice it by ' +
    'missed pings (1.5 s apart, 2 missed) before they move; a partition is measured from the cut, so its time ' +
    'includes however much of the cut the cluster needed. The kernel here has no netem: a slow link is tc tbf (a ' +
    'narrow rate whose queue adds delay) plus iptables statistic drops.',
  figures: MEASURED.flatMap((name) => [
    { name: `hosts.${name}.faults`, unit: 'faults', label: `${name}: faults injected` },
    { name: `hosts.${name}.recovery_median_ms`, unit: 'ms', label: `${name}: recovery, median` },
    { name: `hosts.${name}.recovery_max_ms`, unit: 'ms', label: `${name}: recovery, max` },
    { name: `hosts.${name}.exact`, unit: 'bool', label: `${name}: results exact, one leader per term, no fenced write` },
    { name: `hosts.${name}.split_brain_terms`, unit: 'terms', label: `${name}: terms with two acting leaders`, target: { op: '<=', value: 0 } },
  ]),
  run: hostChaosRecovery,
};
