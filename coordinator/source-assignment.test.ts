import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignSources, movedSources } from './source-assignment.ts';

describe('the assignment of sources', () => {
  it('gives every source one live worker that declares it, spread evenly, fewest partitions first', () => {
    const sources = ['a/x', 'a/y', 'b/z'].map((id) => ({ id, workers: ['w1', 'w2', 'w3'] }));
    const owners = assignSources(sources, {}, { a: ['w1', 'w1', 'w2'], b: ['w2'] });
    expect(owners).toEqual({ 'a/x': 'w3', 'a/y': 'w1', 'b/z': 'w2' });
  });

  it('keeps a source where it runs while that worker lives, and moves it off a dead one', () => {
    const spec = (workers: string[]) => [{ id: 'a/x', workers }];
    expect(assignSources(spec(['w1', 'w2']), { 'a/x': 'w2' }, {})).toEqual({ 'a/x': 'w2' });
    expect(assignSources(spec(['w1']), { 'a/x': 'w2' }, {})).toEqual({ 'a/x': 'w1' });
    expect(assignSources(spec([]), { 'a/x': 'w2' }, {})).toEqual({ 'a/x': null });
    expect(movedSources({ 'a/x': 'w2' }, { 'a/x': 'w1' })).toEqual([{ id: 'a/x', from: 'w2', to: 'w1' }]);
  });

  it('gives a worker near its memory limit no new source, but leaves it the one it runs', () => {
    const sources = [{ id: 'a/x', workers: ['w1', 'w2'] }, { id: 'a/y', workers: ['w1', 'w2'] }];
    expect(assignSources(sources, { 'a/x': 'w1' }, {}, ['w1'])).toEqual({ 'a/x': 'w1', 'a/y': 'w2' });
    expect(assignSources(sources, {}, {}, ['w1', 'w2'])).toEqual({ 'a/x': null, 'a/y': null });
  });

  it('is balanced, sticky within the fair share, and deterministic for any membership', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.uniqueArray(fc.constantFrom('w1', 'w2', 'w3', 'w4', 'w5'), { minLength: 1 }),
        fc.dictionary(fc.constantFrom(...Array.from({ length: 12 }, (_, i) => `j/s${i}`)), fc.constantFrom('w1', 'w2', 'w3', 'w4', 'w5', 'gone')),
        (n, workers, previous) => {
          const sources = Array.from({ length: n }, (_, i) => ({ id: `j/s${i}`, workers }));
          const owners = assignSources(sources, previous, {});
          expect(assignSources([...sources].reverse(), previous, {})).toEqual(owners);
          const counts = workers.map((w) => Object.values(owners).filter((o) => o === w).length);
          expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
          for (const s of sources) expect(workers).toContain(owners[s.id]);
          // Applied to its own answer, it moves nothing.
          expect(movedSources(owners, assignSources(sources, owners, {}))).toEqual([]);
        },
      ),
    );
  });
});
