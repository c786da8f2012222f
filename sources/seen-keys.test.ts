import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeenKeys } from './seen-keys.ts';

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
        expect(seen.toArray()).toEqual(model);
        for (const k of keys) expect(seen.has(k)).toBe(model.includes(k));
        expect(new SeenKeys(capacity, seen.toArray()).toArray()).toEqual(model);
      }),
    );
  });

  it('keep the newest keys when restored into a smaller capacity', () => {
    expect(new SeenKeys(2, ['a', 'b', 'c']).toArray()).toEqual(['b', 'c']);
  });
});
