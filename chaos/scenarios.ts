// The chaos scenarios and their seeded fault schedules. Pure: which kind of fault happens when; the
// injector (fault-injector.ts) picks concrete victims on the live cluster with the same seeded random.
import type { Random } from '../common/random.ts';

/** What one fault does to the cluster. */
export type FaultKind =
  /** kill -9 of a worker that owns partitions; the cluster restarts it a second later. */
  | 'worker-kill'
  /** kill -9 of the leading coordinator; it restarts a second later and rejoins as standby. */
  | 'leader-kill'
  /** SIGSTOP of a worker for longer than the worker timeout, then SIGCONT: a zombie to be fenced. */
  | 'worker-pause'
  /** SIGTERM of a worker (it checkpoints and releases), then started again at once. */
  | 'worker-restart'
  /** SIGTERM of a coordinator (a leader resigns), then started again at once. */
  | 'coordinator-restart'
  /** One more worker joins; the leader moves partitions to it. */
  | 'worker-add'
  /** The newest worker leaves gracefully; its partitions move to the others. */
  | 'worker-remove'
  /** kill -9 of one node of the 3-node NATS cluster; restarted a few seconds later. */
  | 'nats-node-kill'
  /** Multi-host: kill -9 of every process of one host at once, its NATS node included; the host
   *  comes back a few seconds later. */
  | 'host-kill'
  /** Multi-host: one host cut off the network (iptables drops everything on its link), then healed. */
  | 'network-partition'
  /** Multi-host: one host's link made narrow (tc tbf, queueing delay) and lossy (random drops), then
   *  restored. */
  | 'slow-network';

export const SCENARIO_NAMES = ['worker-kill', 'leader-kill', 'worker-pause', 'rolling-restart', 'scale-storm', 'nats-node-kill', 'mixed'] as const;
/** Scenarios on a multi-host cluster of network namespaces (root only, cluster/virtual-hosts.ts). */
export const HOST_SCENARIO_NAMES = ['host-kill', 'network-partition', 'slow-network', 'clock-skew', 'hosts-mixed'] as const;
export type HostScenarioName = (typeof HOST_SCENARIO_NAMES)[number];
export type ScenarioName = (typeof SCENARIO_NAMES)[number] | HostScenarioName;

export interface Scenario {
  name: ScenarioName;
  description: string;
  /** 3: the cluster runs on a 3-node NATS cluster with 3 replicas of every stream and bucket. */
  natsNodes: 1 | 3;
  /** Mean time between faults, ms; --duration / spacing gives the number of faults. */
  spacingMs: number;
  minFaults: number;
  /** Set: the cluster runs on this many virtual hosts, one NATS node each (natsNodes is then 3). */
  hosts?: 3;
  /** Clock offsets, s, of processes by id: they run under libfaketime for the whole run. */
  skewS?: Readonly<Record<string, number>>;
}

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  'worker-kill': { name: 'worker-kill', description: 'kill -9 of random workers, again and again; each restarts a second later', natsNodes: 1, spacingMs: 2_500, minFaults: 2 },
  'leader-kill': { name: 'leader-kill', description: 'kill -9 of the leading coordinator; the standby must take over', natsNodes: 1, spacingMs: 4_000, minFaults: 2 },
  'worker-pause': { name: 'worker-pause', description: 'SIGSTOP of a worker past the worker timeout, then SIGCONT: a zombie owner that must be fenced', natsNodes: 1, spacingMs: 5_000, minFaults: 1 },
  'rolling-restart': {
    name: 'rolling-restart',
    description: 'every coordinator, then every worker, restarted one by one gracefully (SIGTERM: workers checkpoint and release first)',
    natsNodes: 1,
    spacingMs: 2_000,
    minFaults: 0,
  },
  'scale-storm': { name: 'scale-storm', description: 'workers added and removed (gracefully) in quick succession', natsNodes: 1, spacingMs: 1_500, minFaults: 4 },
  'nats-node-kill': { name: 'nats-node-kill', description: 'kill -9 of one node of a 3-node NATS cluster (3 replicas), restarted a few seconds later', natsNodes: 3, spacingMs: 8_000, minFaults: 1 },
  mixed: { name: 'mixed', description: 'all of the above at random (seeded), on a 3-node NATS cluster', natsNodes: 3, spacingMs: 5_000, minFaults: 3 },
  'host-kill': {
    name: 'host-kill',
    description: '3 hosts: kill -9 of every process of one host at once (its NATS node, coordinator and workers); the host comes back 4 s later',
    natsNodes: 3,
    hosts: 3,
    spacingMs: 12_000,
    minFaults: 1,
  },
  'network-partition': {
    name: 'network-partition',
    description: '3 hosts: one host cut off the network with iptables for 6 s, then healed; no two leaders act in one term, the cut-off workers are fenced',
    natsNodes: 3,
    hosts: 3,
    spacingMs: 14_000,
    minFaults: 1,
  },
  'slow-network': {
    name: 'slow-network',
    description: "3 hosts: one host's link narrowed to 2 Mbit/s with up to 200 ms of queueing (tc tbf) and 3% packet loss each way (iptables statistic) for 8 s",
    natsNodes: 3,
    hosts: 3,
    spacingMs: 12_000,
    minFaults: 1,
  },
  'clock-skew': {
    name: 'clock-skew',
    description: '3 hosts: coordinator c2 and worker w2 run 30 s ahead, worker w3 30 s behind (libfaketime), all along; the leader and workers are killed so that the skewed ones lead and own partitions',
    natsNodes: 3,
    hosts: 3,
    skewS: { c2: 30, w2: 30, w3: -30 },
    spacingMs: 5_000,
    minFaults: 2,
  },
  'hosts-mixed': {
    name: 'hosts-mixed',
    description:
      '3 hosts, every fault mixed: a partition, a host loss and a slow link first, then at random (seeded) those, process kills and pauses, NATS node loss; c2 and w2 30 s ahead, w3 30 s behind all along',
    natsNodes: 3,
    hosts: 3,
    skewS: { c2: 30, w2: 30, w3: -30 },
    // Faults that take a NATS node wait for the last one to heal (about 10 s): wider than mixed.
    spacingMs: 12_000,
    minFaults: 3,
  },
};

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name) || (HOST_SCENARIO_NAMES as readonly string[]).includes(name);
}

export interface PlannedFault {
  /** ms after the producer started. */
  atMs: number;
  kind: FaultKind;
  /** rolling-restart: the position of the process in the restart order. */
  step?: number;
}

const MIXED_KINDS: readonly FaultKind[] = ['worker-kill', 'leader-kill', 'worker-pause', 'worker-restart', 'coordinator-restart', 'worker-add', 'nats-node-kill'];
/** hosts-mixed begins with each network fault once, in this order, so that even a short run has
 *  them all; then it draws from HOSTS_MIXED_KINDS. */
const HOSTS_TOUR: readonly FaultKind[] = ['network-partition', 'host-kill', 'slow-network'];
/** hosts-mixed: the network faults weigh twice. */
const HOSTS_MIXED_KINDS: readonly FaultKind[] = ['host-kill', 'host-kill', 'network-partition', 'network-partition', 'slow-network', 'slow-network', 'worker-kill', 'leader-kill', 'worker-pause', 'nats-node-kill'];

/**
 * The faults of a run of `durationMs`: evenly spaced with a seeded jitter of up to a third of the
 * spacing, the first after a quiet start (so the throughput line shows the normal rate first).
 * rolling-restart restarts every one of `processes` at least once, more rounds on longer runs.
 */
export function planFaults(scenario: Scenario, durationMs: number, random: Random, processes: number): PlannedFault[] {
  let n = Math.max(scenario.minFaults, Math.floor(durationMs / scenario.spacingMs));
  if (scenario.name === 'rolling-restart') n = processes * Math.max(1, Math.floor(n / processes));
  const spacing = (durationMs * 0.8) / n;
  const faults: PlannedFault[] = [];
  let added = 0;
  for (let i = 0; i < n; i++) {
    const atMs = Math.round(durationMs * 0.1 + i * spacing + random() * (spacing / 3));
    let kind: FaultKind;
    switch (scenario.name) {
      case 'rolling-restart':
        faults.push({ atMs, kind: 'coordinator-restart', step: i });
        continue;
      case 'scale-storm':
        // Mostly alternating, sometimes two in a row, never fewer workers than at the start minus one.
        kind = added <= -1 || (added < 2 && random() < 0.6) ? 'worker-add' : 'worker-remove';
        added += kind === 'worker-add' ? 1 : -1;
        break;
      case 'clock-skew':
        // The leader first, so that the skewed standby (c2) leads; then workers, whose partitions
        // move to and from the skewed one.
        kind = i % 2 === 0 ? 'leader-kill' : 'worker-kill';
        break;
      case 'hosts-mixed':
        kind = HOSTS_TOUR[i] ?? HOSTS_MIXED_KINDS[Math.floor(random() * HOSTS_MIXED_KINDS.length)]!;
        break;
      case 'mixed':
        kind = MIXED_KINDS[Math.floor(random() * MIXED_KINDS.length)]!;
        // An added worker is taken away again later, so that the cluster does not only grow.
        if (kind === 'worker-add' && added > 0) kind = 'worker-remove';
        if (kind === 'worker-add') added++;
        else if (kind === 'worker-remove') added--;
        break;
      default:
        kind = scenario.name;
    }
    faults.push({ atMs, kind });
  }
  return faults;
}
