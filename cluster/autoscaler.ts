// The launcher's half of autoscaling: the leader decides how many workers should run and publishes it
// (`autoscale` in the coordination bucket, coordinator/autoscale-policy.ts); whoever owns the worker
// processes carries it out. Here that is the local cluster of `shardflow up --autoscale MIN..MAX`;
// on Kubernetes it would be an operator or KEDA reading the same record.
import type { KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { AUTOSCALE_KEY, COORDINATION_BUCKET } from '../common/names.ts';
import type { Logger } from '../common/logger.ts';
import type { AutoscaleRecord } from '../coordinator/protocol.ts';
import { openBucket } from '../nats/topology.ts';

/** What the follower needs of the cluster: how many workers run, and a way to change that. */
export interface ScalableCluster {
  workerIds(): string[];
  scale(count: number): Promise<string[]>;
}

export interface AutoscaleFollower {
  /** The last decision seen (undefined: none yet). */
  readonly last: AutoscaleRecord | undefined;
  stop(): void;
}

/**
 * Follows the leader's decisions, one at a time, within [min, max] (a decision outside them, from a
 * leader configured otherwise, is clamped). A scale that fails is logged and tried again at the next
 * decision or after a second.
 */
export async function followAutoscale(nc: NatsConnection, replicas: number, cluster: ScalableCluster, range: { min: number; max: number }, log: Logger): Promise<AutoscaleFollower> {
  const kv = await openBucket(nc, COORDINATION_BUCKET, replicas);
  const watch = await kv.watch({ key: AUTOSCALE_KEY });
  let stopped = false;
  const state: { last: AutoscaleRecord | undefined } = { last: undefined };
  let scaling = false;
  const apply = async () => {
    const record = state.last;
    if (scaling || stopped || !record) return;
    const desired = Math.min(range.max, Math.max(range.min, record.desired));
    const current = cluster.workerIds().length;
    if (desired === current) return;
    scaling = true;
    try {
      const after = await cluster.scale(desired);
      log.info({ from: current, to: after.length, term: record.term, reason: record.reason }, 'autoscaled the workers');
    } catch (err) {
      log.warn({ err: (err as Error).message, desired }, 'autoscale not carried out; trying again');
    } finally {
      scaling = false;
    }
  };
  void (async () => {
    for await (const e of watch as AsyncIterable<KvWatchEntry>) {
      if (stopped) break;
      if (e.operation !== 'PUT') continue;
      try {
        state.last = e.json() as AutoscaleRecord;
      } catch {
        continue;
      }
      await apply();
    }
  })();
  // A decision that arrived while a scale was under way, or a scale that failed, is applied here.
  const timer = setInterval(() => void apply(), 1_000);
  return {
    get last() {
      return state.last;
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      watch.stop();
    },
  };
}
