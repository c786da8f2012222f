import { describe, expect, it } from 'vitest';
import { autoscaleStep, initialAutoscale, type AutoscaleObservation, type AutoscaleSettings, type AutoscaleState } from './autoscale-policy.ts';

const S: AutoscaleSettings = { min: 1, max: 4, upLagPerWorker: 1_000, upCpu: 0.8, downLag: 100, downCpu: 0.3, upForMs: 3_000, downForMs: 10_000, cooldownMs: 5_000 };

/** Feeds one observation per second from `from` to `to` ms; the workers follow the decision at once. */
function run(state: AutoscaleState, from: number, to: number, observe: (workers: number) => Omit<AutoscaleObservation, 'workers'>): AutoscaleState {
  for (let t = from; t <= to; t += 1_000) state = autoscaleStep(state, { workers: state.desired, ...observe(state.desired) }, t, S);
  return state;
}

describe('the autoscale policy', () => {
  it('adds a worker only after the lag stayed high for upForMs, then waits out the cooldown before the next', () => {
    let s = initialAutoscale(1, S, 0);
    s = run(s, 1_000, 3_000, () => ({ lag: 5_000, cpu: 0.5 }));
    expect(s.desired).toBe(1);
    s = run(s, 4_000, 4_000, () => ({ lag: 5_000, cpu: 0.5 }));
    expect(s.desired).toBe(2);
    expect(s.reason).toMatch(/^behind: lag 5000/);
    // Still behind: the next worker comes after the cooldown and another upForMs, not at once.
    s = run(s, 5_000, 8_000, () => ({ lag: 5_000, cpu: 0.5 }));
    expect(s.desired).toBe(2);
    s = run(s, 9_000, 12_000, () => ({ lag: 5_000, cpu: 0.5 }));
    expect(s.desired).toBe(3);
  });

  it('adds a worker for CPU alone, and never goes past max', () => {
    let s = initialAutoscale(3, S, 0);
    s = run(s, 1_000, 60_000, () => ({ lag: 0, cpu: 0.95 }));
    expect(s.desired).toBe(4);
  });

  it('does not flap on a burst shorter than upForMs, nor remove on a calm shorter than downForMs', () => {
    let s = initialAutoscale(2, S, 0);
    for (let round = 0; round < 10; round++) {
      s = run(s, round * 12_000 + 1_000, round * 12_000 + 2_000, () => ({ lag: 10_000, cpu: 0.9 }));
      s = run(s, round * 12_000 + 3_000, round * 12_000 + 12_000, () => ({ lag: 0, cpu: 0.1 }));
    }
    expect(s.desired).toBe(2);
  });

  it('removes a worker after a long calm, one at a time, never below min', () => {
    let s = initialAutoscale(3, S, 0);
    s = run(s, 1_000, 11_000, () => ({ lag: 10, cpu: 0.1 }));
    expect(s.desired).toBe(2);
    expect(s.reason).toMatch(/^calm/);
    s = run(s, 12_000, 120_000, () => ({ lag: 10, cpu: 0.1 }));
    expect(s.desired).toBe(1);
  });

  it('waits for the workers to match a decision before the next, and brings a count outside the range back within it', () => {
    let s = initialAutoscale(1, S, 0);
    s = run(s, 1_000, 4_000, () => ({ lag: 5_000, cpu: 0.5 }));
    expect(s.desired).toBe(2);
    // The launcher has not started the worker yet: no further decision meanwhile.
    s = autoscaleStep(s, { workers: 1, lag: 50_000, cpu: 1 }, 10_000, S);
    expect(s.desired).toBe(2);
    // Someone scaled to 6 by hand: back to the maximum.
    s = autoscaleStep(s, { workers: 6, lag: 500, cpu: 0.5 }, 30_000, S);
    expect(s.desired).toBe(4);
    expect(s.reason).toBe('kept within 1..4');
  });
});
