import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alignedWindowsOf } from './aligned.ts';
import { session } from './session.ts';
import { sliding } from './sliding.ts';
import { tumbling } from './tumbling.ts';

describe('window assigners', () => {
  it('put an event in exactly the windows that contain it', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10_000, max: 10_000 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 6 }), fc.nat(100), (ts, slide, factor, offset) => {
        const spec = sliding({ size: slide * factor + (offset % 3), slide, offset });
        const got = alignedWindowsOf(ts, spec);
        const expected = [];
        for (let s = ts - spec.size + 1; s <= ts; s++) if ((((s - spec.offset) % slide) + slide) % slide === 0) expected.push({ start: s, end: s + spec.size });
        expect(got).toEqual(expected);
      }),
    );
  });

  it('give tumbling windows one window per event, aligned to the offset', () => {
    expect(alignedWindowsOf(125, tumbling({ size: '1m', offset: 0 }))).toEqual([{ start: 0, end: 60_000 }]);
    expect(alignedWindowsOf(61_000, tumbling({ size: '1m', offset: '30s' }))).toEqual([{ start: 30_000, end: 90_000 }]);
  });

  it('reject definitions that would lose events, with what to change', () => {
    expect(() => sliding({ size: '1m', slide: '5m' })).toThrow(/make size >= slide/);
    expect(() => tumbling('0s')).toThrow(/at least 1ms/);
    expect(() => session({ gap: 'soon' })).toThrow(/"soon" is not a duration/);
  });
});
