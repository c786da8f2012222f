// How many workers the cluster should run, from the lag and CPU the workers report: the leader's
// autoscaling decision, with hysteresis so that a passing burst or a quiet second does not make the
// cluster flap. Pure: the leader feeds it what it observed and the time; the launcher that owns the
// processes (shardflow up) carries the decision out.
//
//   scale up by one   when the lag per worker stayed above upLagPerWorker, or the mean CPU above upCpu,
//                     for upForMs, and the last change is cooldownMs old;
//   scale down by one when the total lag stayed below downLag and the mean CPU below downCpu for
//                     downForMs, and the last change is cooldownMs old;
//   never outside [min, max].
import type { Config } from '../common/config.ts';

export interface AutoscaleSettings {
  min: number;
  max: number;
  /** Messages of lag per live worker above which the cluster is behind. */
  upLagPerWorker: number;
  /** Mean share of a core per worker above which the workers are busy (0..1). */
  upCpu: number;
  /** Total lag below which the cluster keeps up easily. */
  downLag: number;
  /** Mean share of a core per worker below which the workers are idle enough to lose one. */
  downCpu: number;
  /** ms the pressure must last before a worker is added. */
  upForMs: number;
  /** ms the calm must last before a worker is removed (longer than upForMs: adding is cheap, a
   *  removal moves partitions). */
  downForMs: number;
  /** ms after a change before the next one: the new worker must take its partitions first. */
  cooldownMs: number;
}

/** The settings from the configuration (SHARDFLOW_AUTOSCALE and SHARDFLOW_AUTOSCALE_*). */
export function autoscaleSettings(c: Pick<Config, 'AUTOSCALE' | 'AUTOSCALE_UP_LAG' | 'AUTOSCALE_UP_CPU' | 'AUTOSCALE_DOWN_LAG' | 'AUTOSCALE_DOWN_CPU' | 'AUTOSCALE_UP_FOR_MS' | 'AUTOSCALE_DOWN_FOR_MS' | 'AUTOSCALE_COOLDOWN_MS'>): AutoscaleSettings {
  return {
    min: c.AUTOSCALE?.min ?? 1,
    max: c.AUTOSCALE?.max ?? 1,
    upLagPerWorker: c.AUTOSCALE_UP_LAG,
    upCpu: c.AUTOSCALE_UP_CPU,
    downLag: c.AUTOSCALE_DOWN_LAG,
    downCpu: c.AUTOSCALE_DOWN_CPU,
    upForMs: c.AUTOSCALE_UP_FOR_MS,
    downForMs: c.AUTOSCALE_DOWN_FOR_MS,
    cooldownMs: c.AUTOSCALE_COOLDOWN_MS,
  };
}

export interface AutoscaleObservation {
  /** Live workers. */
  workers: number;
  /** Unprocessed messages over every partition. */
  lag: number;
  /** Mean share of a core used per live worker (0..1; undefined: not reported). */
  cpu: number | undefined;
}

export interface AutoscaleState {
  desired: number;
  /** Since when the cluster has been behind (null: it is not). */
  pressureSince: number | null;
  /** Since when the cluster has been calm (null: it is not). */
  calmSince: number | null;
  changedAt: number;
  /** Why `desired` is what it is, for status and logs. */
  reason: string;
}

export function initialAutoscale(workers: number, s: AutoscaleSettings, now: number): AutoscaleState {
  const desired = clamp(workers, s);
  // No cooldown at the start: nothing has changed yet.
  return { desired, pressureSince: null, calmSince: null, changedAt: now - s.cooldownMs, reason: desired === workers ? 'started' : `kept within ${s.min}..${s.max}` };
}

function clamp(n: number, s: AutoscaleSettings): number {
  return Math.min(s.max, Math.max(s.min, n));
}

export function autoscaleStep(state: AutoscaleState, o: AutoscaleObservation, now: number, s: AutoscaleSettings): AutoscaleState {
  const perWorker = o.lag / Math.max(1, o.workers);
  const busy = perWorker > s.upLagPerWorker || (o.cpu !== undefined && o.cpu > s.upCpu);
  const calm = o.lag < s.downLag && (o.cpu === undefined || o.cpu < s.downCpu);
  const pressureSince = busy ? (state.pressureSince ?? now) : null;
  const calmSince = calm ? (state.calmSince ?? now) : null;
  const next = { ...state, pressureSince, calmSince };
  // A decision is carried out before the next: until the workers match it, wait (within bounds).
  if (o.workers !== state.desired && now - state.changedAt < s.cooldownMs * 3) return next;
  const cooled = now - state.changedAt >= s.cooldownMs;
  const cpu = o.cpu === undefined ? 'n/a' : `${Math.round(o.cpu * 100)}%`;
  if (cooled && pressureSince !== null && now - pressureSince >= s.upForMs && o.workers < s.max) {
    return { desired: o.workers + 1, pressureSince: null, calmSince: null, changedAt: now, reason: `behind: lag ${o.lag} (${Math.round(perWorker)} per worker), cpu ${cpu} for ${now - pressureSince} ms` };
  }
  if (cooled && calmSince !== null && now - calmSince >= s.downForMs && o.workers > s.min) {
    return { desired: o.workers - 1, pressureSince: null, calmSince: null, changedAt: now, reason: `calm: lag ${o.lag}, cpu ${cpu} for ${now - calmSince} ms` };
  }
  // Out of bounds (the range was changed, or a person scaled by hand): back within them.
  if (o.workers < s.min || o.workers > s.max) return { ...next, desired: clamp(o.workers, s), changedAt: now, reason: `kept within ${s.min}..${s.max}` };
  return next;
}
