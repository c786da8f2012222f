import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fingerprint, SeenKeys } from './seen-keys.ts';

describe('the seen keys of a source', () => {
  it('remember exactly the last `capacity` distinct keys, oldest first, whatever the sequence', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.integer({ min: 0, max: 40 }).map(String), { maxLength: 300 }), (capacity, keys) => {
        const seen = new SeenKeys(capacity);
        const model: string[] = [];
        for (const k of keys) {
          seen.add(k);
          if (!model.includes(k)) {
            model.push(k);
            if (model.length > capacity) model.shift();
          }
        }
        expect(seen.toArray()).toEqual(model.map(fingerprint));
        for (const k of keys) expect(seen.has(k)).toBe(model.includes(k));
        const restored = new SeenKeys(capacity, seen.toArray());
        expect(restored.toArray()).toEqual(model.map(fingerprint));
        for (const k of keys) expect(restored.has(k)).toBe(model.includes(k));
      }),
    );
  });

  it('keep the newest keys when restored into a smaller capacity', () => {
    const restored = new SeenKeys(2, ['a', 'b', 'c'].map(fingerprint));
    expect([restored.has('a'), restored.has('b'), restored.has('c')]).toEqual([false, true, true]);
  });
});
