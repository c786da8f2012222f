import { describe, expect, it } from 'vitest';
import { count } from './aggregates/count.ts';
import { tumbling } from './assigners/tumbling.ts';
import type { EngineRecord } from './records.ts';
import { WatermarkTracker } from './watermark-tracker.ts';
import { WindowOperator } from './window-operator.ts';

function tracker(idleTimeout = Infinity) {
  const clock = { now: 0 };
  return { clock, t: new WatermarkTracker({ maxOutOfOrderness: 10, idleTimeout, clock: () => clock.now }) };
}

describe('the watermark', () => {
  it('trails the latest event time by the out-of-orderness bound, and never goes back', () => {
    const { t } = tracker();
    t.observe(0, 100);
    expect(t.watermark).toBe(89);
    t.observe(0, 50);
    expect(t.watermark).toBe(89);
    t.observe(0, 130);
    expect(t.watermark).toBe(119);
  });

  it('is the minimum across inputs, so a slow partition holds windows back', () => {
    const { t } = tracker();
    t.observe(0, 100);
    t.observe(1, 40);
    expect(t.watermark).toBe(89); // input 1 arrived after the watermark reached 89: it cannot go back
    t.observe(0, 200);
    expect(t.watermark).toBe(89);
    t.observe(1, 150);
    expect(t.watermark).toBe(139);
    t.observe(1, 300);
    expect(t.watermark).toBe(189);
  });

  it('ignores an input that stayed idle past the timeout, and takes it back when it delivers again', () => {
    const { t, clock } = tracker(1_000);
    t.observe(0, 100);
    t.observe(1, 100);
    t.tick((clock.now = 10));
    t.observe(0, 500);
    expect(t.watermark).toBe(89);
    clock.now = 500;
    t.observe(0, 600);
    t.tick(500);
    t.tick((clock.now = 1_100)); // input 1 silent since t=10
    expect(t.watermark).toBe(589);
    t.observe(1, 300);
    t.observe(0, 900);
    expect(t.watermark).toBe(589); // input 1 is back and the slowest again
    t.observe(1, 1_000);
    expect(t.watermark).toBe(889);
  });

  it('advances to the latest event time when every input has gone quiet', () => {
    const { t, clock } = tracker(1_000);
    t.observe(0, 100);
    t.observe(1, 120);
    t.tick((clock.now = 1));
    expect(t.watermark).toBe(89);
    t.tick((clock.now = 2_000));
    expect(t.watermark).toBe(120);
  });

  it('holds back for an expected input until it delivers or goes idle', () => {
    const { t, clock } = tracker(1_000);
    t.expect([0, 1]);
    t.observe(0, 100);
    expect(t.watermark).toBe(-Infinity);
    t.tick((clock.now = 500));
    t.observe(0, 200);
    t.tick((clock.now = 1_200));
    expect(t.watermark).toBe(189);
  });
});

describe('an operator with an idle timeout', () => {
  it('fires every window that ended before the last event of a stream that went quiet', () => {
    const out: EngineRecord[] = [];
    const clock = { now: 0 };
    const op = new WindowOperator<number>({
      window: tumbling(1_000),
      aggregates: { n: count() },
      maxOutOfOrderness: 5_000,
      idleTimeout: 30_000,
      clock: () => clock.now,
      emit: (r) => out.push(r),
    });
    for (let i = 0; i < 10; i++) op.process('k', i * 300, i);
    op.onProcessingTime((clock.now = 1));
    expect(out).toEqual([]);
    op.onProcessingTime((clock.now = 40_000));
    expect(out.map((r) => r.type === 'result' && [r.start, r.values.n])).toEqual([
      [0, 4],
      [1_000, 3],
    ]); // [2000, 3000) waits: events up to 2999 may still come

  });
});

describe('a watermark marker from the log', () => {
  it('moves the watermark forward only, and fires the windows it passes', () => {
    const out: EngineRecord[] = [];
    const op = new WindowOperator<number>({ window: tumbling(10), aggregates: { n: count() }, emit: (r) => out.push(r) });
    op.process('k', 3, 1);
    op.process('k', 14, 1); // watermark 13: [0, 10) fires
    expect(op.nextFireTime).toBe(19);
    op.advanceWatermark(25);
    expect(out.map((r) => r.type === 'result' && r.start)).toEqual([0, 10]);
    op.advanceWatermark(5);
    expect(op.watermark).toBe(25);
    op.process('k', 12, 1);
    expect(out.at(-1)).toMatchObject({ type: 'late', reason: 'window-closed' });
  });
});
