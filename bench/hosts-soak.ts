// Scenario (opt-in, `npm run bench -- hosts-soak [--minutes 30]`): the 3-host cluster for half an
// hour or more under every fault mixed (hosts-mixed: host loss, partitions, slow and lossy links,
// process kills and pauses, NATS node loss, two processes 30 s ahead and one 30 s behind all along),
// then the exact verdict. Records the recovery of every kind of fault and the backlog and live
// workers over time. Needs root; elsewhere it says why and records nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recoveryStats, runPassed } from '../chaos/report.ts';
import { runChaos } from '../chaos/run.ts';
import type { FaultKind } from '../chaos/scenarios.ts';
import { virtualHostsUnavailable } from '../cluster/virtual-hosts.ts';
import { childEnvironment, loadConfig } from '../common/config.ts';
import { createFileLogger } from '../common/logger.ts';
import type { Figure, Series } from './results-file.ts';
import type { Scenario, ScenarioOutcome } from './scenario.ts';

const RATE = 100;
const KINDS: readonly FaultKind[] = ['host-kill', 'network-partition', 'slow-network', 'worker-kill', 'leader-kill', 'worker-pause', 'nats-node-kill'];

function minutesArg(): number {
  const i = process.argv.indexOf('--minutes');
  const minutes = i >= 0 ? Number(process.argv[i + 1]) : 30;
  if (!(minutes > 0)) throw new Error(`--minutes must be a positive number of minutes, got ${process.argv[i + 1]}`);
  return minutes;
}

export async function hostsSoak(log: (line: string) => void): Promise<ScenarioOutcome> {
  const unavailable = virtualHostsUnavailable();
  if (unavailable) {
    log(`skipped: ${unavailable}`);
    return [];
  }
  const minutes = minutesArg();
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-bench-hosts-soak-'));
  // A run that did not pass keeps its folder (logs, report.json) for a person to read.
  let keep = false;
  try {
    const report = await runChaos({
      scenario: 'hosts-mixed',
      durationS: Math.round(minutes * 60),
      seed: 1,
      rate: RATE,
      workers: 5,
      coordinators: 2,
      dataDir: dir,
      drainS: 120,
      config: loadConfig({}),
      log: createFileLogger('chaos', 'info', join(dir, 'logs', 'chaos.log')),
      env: childEnvironment(),
      progress: (line) => log(line),
    });
    writeFileSync(join(dir, 'report.json'), JSON.stringify({ ...report, samples: [] }, null, 2) + '\n');
    keep = !runPassed(report);
    if (keep) log(`not exact: the logs and report are kept in ${dir}`);
    const all = recoveryStats(report.faults);
    log(`${report.faults.length} faults over ${minutes} min; recovery median ${all.medianMs ?? '-'} ms, max ${all.maxMs ?? '-'} ms; ${runPassed(report) ? 'exact' : 'NOT EXACT'}`);
    const figures: Figure[] = [
      { name: 'hosts_soak.minutes', value: minutes, unit: 'min' },
      { name: 'hosts_soak.events', value: report.verdict.input.published, unit: 'events' },
      { name: 'hosts_soak.faults', value: report.faults.length, unit: 'faults' },
      { name: 'hosts_soak.faults_not_injected', value: report.faults.filter((f) => f.error !== undefined).length, unit: 'faults' },
      { name: 'hosts_soak.recovery_median_ms', value: all.medianMs ?? -1, unit: 'ms' },
      { name: 'hosts_soak.recovery_max_ms', value: all.maxMs ?? -1, unit: 'ms' },
      { name: 'hosts_soak.exact', value: runPassed(report) ? 1 : 0, unit: 'bool' },
      { name: 'hosts_soak.split_brain_terms', value: report.leaderTerms?.conflicts.length ?? -1, unit: 'terms' },
      ...KINDS.map((kind) => ({ name: `hosts_soak.${kind}.recovery_median_ms`, value: recoveryStats(report.faults.filter((f) => f.kind === kind)).medianMs ?? -1, unit: 'ms' })),
    ];
    // One point every 10 s is enough for a chart of half an hour.
    const every = report.samples.filter((s, i, all) => i === 0 || Math.floor(s.atMs / 10_000) !== Math.floor(all[i - 1]!.atMs / 10_000));
    const series: Series[] = [
      { name: 'hosts_soak.backlog_events', unit: 'events', points: every.map((s) => [Math.round(s.atMs / 1000), s.stored - s.checkpointed]) },
      { name: 'hosts_soak.workers_alive', unit: 'workers', points: every.map((s) => [Math.round(s.atMs / 1000), s.workersAlive]) },
    ];
    return { figures, series };
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

export const hostsSoakScenario: Scenario = {
  name: 'hosts-soak',
  title: 'Soak on 3 hosts, every fault mixed',
  description:
    'Opt-in (`npm run bench -- hosts-soak --minutes 30`): the 3-host cluster of the host-chaos scenario runs the ' +
    `chaos job at ${RATE} events/s for the given minutes (30 by default) under \`shardflow chaos --scenario hosts-mixed\`: ` +
    'a partition, a host loss and a slow link first, then a fault every 12 s or so at random (seeded) among host ' +
    'loss, partitions, slow and lossy links (each twice as likely), worker kills, leader kills, worker pauses and ' +
    'NATS node kills, one at a time where a NATS node is involved; coordinator c2 and worker w2 run 30 s ahead and ' +
    'w3 30 s behind (libfaketime) all along. Then the verdict against the oracle, one leader per term, no fenced ' +
    'write. The series are the backlog (events stored but not yet covered by a checkpoint) and the live workers.',
  figures: [
    { name: 'hosts_soak.minutes', unit: 'min', label: 'length of the run' },
    { name: 'hosts_soak.events', unit: 'events', label: 'events published' },
    { name: 'hosts_soak.faults', unit: 'faults', label: 'faults planned' },
    { name: 'hosts_soak.faults_not_injected', unit: 'faults', label: 'faults that could not be injected (e.g. no leader at that instant)' },
    { name: 'hosts_soak.recovery_median_ms', unit: 'ms', label: 'recovery, median over all faults' },
    { name: 'hosts_soak.recovery_max_ms', unit: 'ms', label: 'recovery, max over all faults' },
    { name: 'hosts_soak.exact', unit: 'bool', label: 'results exact, one leader per term, no fenced write' },
    { name: 'hosts_soak.split_brain_terms', unit: 'terms', label: 'terms with two acting leaders', target: { op: '<=', value: 0 } },
    ...KINDS.map((kind) => ({ name: `hosts_soak.${kind}.recovery_median_ms`, unit: 'ms', label: `${kind}: recovery, median` })),
  ],
  run: hostsSoak,
  optIn: true,
};
