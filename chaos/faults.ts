// Injects one planned fault into the live local cluster: picks the victim with the run's seeded
// random, acts, and says when the fault has taken effect (from then on its recovery is measured).
// A fault with a second half (resume a paused worker, restart a killed NATS node) finishes it in
// the background; `settled` tells when.
import type { LocalCluster } from '../cluster/local-cluster.ts';
import type { SlowLink, VirtualHosts } from '../cluster/virtual-hosts.ts';
import { ShardflowError } from '../common/errors.ts';
import { pick, type Random } from '../common/random.ts';
import type { FaultKind, PlannedFault } from './scenarios.ts';

export interface FaultTiming {
  /** SIGSTOP lasts this long: past the worker timeout, so the worker is declared dead meanwhile. */
  pauseMs: number;
  /** A killed NATS node stays down this long before it is restarted. */
  natsDownMs: number;
  /** After a restarted NATS node, the next NATS kill waits this long for it to catch up. */
  natsCatchUpMs: number;
  /** A killed host stays down this long before it is started again. */
  hostDownMs: number;
  /** A host stays cut off this long before the partition heals. */
  partitionMs: number;
  /** A host's link stays slow this long. */
  slowMs: number;
  /** How slow and lossy a slowed link is. */
  slowLink: SlowLink;
}

export interface InjectedFault {
  /** When the fault was injected (epoch ms). */
  at: number;
  kind: FaultKind;
  /** The process or node it hit (w3, c1, n2), or what it did (w6 joined). */
  target: string;
  /** What happened, for the report. */
  detail: string;
  /** The second half of the fault, if any (the resume, the node restart). */
  settled: Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pickOne<T>(random: Random, items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : pick(random, items);
}

/** Processes in the order rolling-restart visits them: coordinators first, then workers. */
export function rollingOrder(cluster: LocalCluster): string[] {
  return [...cluster.coordinatorIds(), ...cluster.workerIds()];
}

/** What a run's faults leave for the next ones. */
export interface FaultState {
  /** When the last killed NATS node is back and has had time to catch up (a host fault takes a
   *  node too: one at a time, as a replicated stream survives one lost node, not two). */
  natsHealed: Promise<void>;
  /** The hosts of a multi-host cluster, for the network faults. */
  hosts?: VirtualHosts;
}

export function newFaultState(hosts?: VirtualHosts): FaultState {
  return { natsHealed: Promise.resolve(), ...(hosts ? { hosts } : {}) };
}

function hostsOf(state: FaultState, kind: FaultKind): VirtualHosts {
  if (!state.hosts) throw new ShardflowError('CONFIG_INVALID', `${kind} needs a multi-host cluster (a scenario with hosts)`);
  return state.hosts;
}

export async function injectFault(cluster: LocalCluster, fault: PlannedFault, random: Random, timing: FaultTiming, state: FaultState): Promise<InjectedFault> {
  const done = Promise.resolve();
  let at = Date.now();
  switch (fault.kind) {
    case 'worker-kill': {
      const victim = await cluster.kill('worker', pickOne(random, cluster.runningWorkerIds()));
      return { at, kind: fault.kind, target: victim.id, detail: `kill -9 of worker ${victim.id} (pid ${victim.pid}); restarted after ${cluster.restartAfterMs} ms`, settled: done };
    }
    case 'leader-kill': {
      const victim = await cluster.kill('leader');
      return { at, kind: fault.kind, target: victim.id, detail: `kill -9 of the leader ${victim.id} (pid ${victim.pid}); restarted after ${cluster.restartAfterMs} ms`, settled: done };
    }
    case 'worker-pause': {
      const id = pickOne(random, cluster.runningWorkerIds());
      if (!id) throw new ShardflowError('PROCESS_UNAVAILABLE', 'no running worker to pause');
      const victim = cluster.pause(id);
      const settled = sleep(timing.pauseMs).then(() => void cluster.resume(id));
      return { at, kind: fault.kind, target: id, detail: `SIGSTOP of worker ${id} (pid ${victim.pid}) for ${timing.pauseMs} ms, then SIGCONT`, settled };
    }
    case 'worker-restart':
    case 'coordinator-restart': {
      let id: string | undefined;
      if (fault.step !== undefined) {
        const order = rollingOrder(cluster);
        id = order[fault.step % order.length];
      } else {
        id = pickOne(random, fault.kind === 'worker-restart' ? cluster.runningWorkerIds() : cluster.coordinatorIds());
      }
      if (!id) throw new ShardflowError('PROCESS_UNAVAILABLE', `no process to restart for ${fault.kind}`);
      const r = await cluster.restart(id, 'graceful');
      return { at, kind: r.role === 'worker' ? 'worker-restart' : 'coordinator-restart', target: id, detail: `SIGTERM of ${r.role} ${id} (pid ${r.oldPid}), started again (pid ${r.pid})`, settled: done };
    }
    case 'worker-add': {
      const before = new Set(cluster.workerIds());
      const after = await cluster.scale(before.size + 1);
      const added = after.find((id) => !before.has(id)) ?? '?';
      return { at, kind: fault.kind, target: added, detail: `worker ${added} joined (${after.length} workers)`, settled: done };
    }
    case 'worker-remove': {
      const ids = cluster.workerIds();
      const after = await cluster.scale(Math.max(1, ids.length - 1));
      const removed = ids.find((id) => !after.includes(id)) ?? '?';
      return { at, kind: fault.kind, target: removed, detail: `worker ${removed} left gracefully (${after.length} workers)`, settled: done };
    }
    case 'nats-node-kill': {
      // One node at a time: a replicated stream survives one lost node, not a second one killed
      // while the first is still catching up.
      await state.natsHealed;
      at = Date.now();
      const node = pickOne(random, cluster.natsNodeNames());
      if (!node) throw new Error('no NATS node');
      const killed = await cluster.killNatsNode(node);
      const settled = sleep(timing.natsDownMs).then(async () => void (await cluster.restartNatsNode(node)));
      state.natsHealed = settled.catch(() => {}).then(async () => void (await sleep(timing.natsCatchUpMs)));
      return { at, kind: fault.kind, target: node, detail: `kill -9 of NATS node ${node} (pid ${killed.pid}); restarted after ${timing.natsDownMs} ms`, settled };
    }
    case 'host-kill': {
      await state.natsHealed;
      at = Date.now();
      const host = pickOne(random, cluster.hostNames());
      if (!host) throw new ShardflowError('CONFIG_INVALID', 'host-kill needs a multi-host cluster');
      const killed = await cluster.killHost(host);
      const settled = sleep(timing.hostDownMs).then(async () => void (await cluster.restartHost(host)));
      state.natsHealed = settled.catch(() => {}).then(async () => void (await sleep(timing.natsCatchUpMs)));
      const what = killed.map((p) => `${p.id} (pid ${p.pid})`).join(', ');
      return { at, kind: fault.kind, target: host, detail: `kill -9 of every process of host ${host}: ${what}; the host restarted after ${timing.hostDownMs} ms`, settled };
    }
    case 'network-partition': {
      const hosts = hostsOf(state, fault.kind);
      await state.natsHealed;
      at = Date.now();
      const host = pickOne(random, cluster.hostNames())!;
      hosts.partition(host);
      const settled = sleep(timing.partitionMs).then(() => hosts.heal(host));
      state.natsHealed = settled.catch(() => {}).then(async () => void (await sleep(timing.natsCatchUpMs)));
      const on = cluster.processesOn(host).map((p) => p.id).join(', ');
      return { at, kind: fault.kind, target: host, detail: `host ${host} (${on}) cut off the network for ${timing.partitionMs} ms, then healed`, settled };
    }
    case 'slow-network': {
      const hosts = hostsOf(state, fault.kind);
      await state.natsHealed;
      at = Date.now();
      const host = pickOne(random, cluster.hostNames())!;
      const link = timing.slowLink;
      hosts.slow(host, link);
      const settled = sleep(timing.slowMs).then(() => hosts.restore(host));
      state.natsHealed = settled.catch(() => {}).then(async () => void (await sleep(timing.natsCatchUpMs)));
      return {
        at,
        kind: fault.kind,
        target: host,
        detail: `link of host ${host} at ${link.rateKbit} kbit/s, up to ${link.queueMs} ms queued, ${(link.loss * 100).toFixed(0)}% loss each way, for ${timing.slowMs} ms`,
        settled,
      };
    }
  }
}
