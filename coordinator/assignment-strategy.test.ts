import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { minimumMoves } from '../test/assignment-oracle.ts';
import { assignPartitions, movedPartitions, type Owners } from './assignment-strategy.ts';

const workerIds = fc.uniqueArray(fc.constantFrom<string>('w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7'), { maxLength: 7 });

function counts(owners: (string | null)[], workers: string[]) {
  return workers.map((w) => owners.filter((o) => o === w).length);
}

describe('partition assignment', () => {
  it('is balanced, complete, minimal in moves and deterministic for any membership change', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), workerIds, workerIds, (partitions, first, second) => {
        const a = assignPartitions([{ job: 'j', partitions, workers: first }], {});
        const b = assignPartitions([{ job: 'j', partitions, workers: second }], a);
        for (const [owners, workers] of [[a.j!, first], [b.j!, second]] as const) {
          if (workers.length === 0) {
            expect(owners.every((o) => o === null)).toBe(true);
            continue;
          }
          expect(owners.every((o) => o !== null && workers.includes(o))).toBe(true);
          const c = counts(owners, [...workers]);
          expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(1);
        }
        if (second.length > 0) expect(movedPartitions(a, b).length).toBe(minimumMoves(a.j!, [...second], partitions));
        expect(assignPartitions([{ job: 'j', partitions, workers: [...second].reverse() }], a)).toEqual(b);
      }),
      { numRuns: 500 },
    );
  });

  it('moves nothing when membership does not change', () => {
    const a = assignPartitions([{ job: 'j', partitions: 16, workers: ['w1', 'w2', 'w3'] }], {});
    expect(movedPartitions(a, assignPartitions([{ job: 'j', partitions: 16, workers: ['w3', 'w1', 'w2'] }], a))).toEqual([]);
  });

  it('scales 2 -> 5 -> 3 workers moving only what balance requires', () => {
    const two = assignPartitions([{ job: 'j', partitions: 16, workers: ['w1', 'w2'] }], {});
    const five = assignPartitions([{ job: 'j', partitions: 16, workers: ['w1', 'w2', 'w3', 'w4', 'w5'] }], two);
    expect(movedPartitions(two, five).length).toBe(9); // quotas 4,3,3,3,3: w1 keeps 4, w2 keeps 3 of its 8
    const three = assignPartitions([{ job: 'j', partitions: 16, workers: ['w1', 'w2', 'w5'] }], five);
    expect(movedPartitions(five, three).every((m) => m.from === 'w3' || m.from === 'w4')).toBe(true);
  });

  it('spreads the extra partitions of several jobs over different workers', () => {
    const jobs = ['a', 'b', 'c', 'd'].map((job) => ({ job, partitions: 5, workers: ['w1', 'w2', 'w3', 'w4'] }));
    const owners: Owners = assignPartitions(jobs, {});
    const total = ['w1', 'w2', 'w3', 'w4'].map((w) => Object.values(owners).flat().filter((o) => o === w).length);
    expect(Math.max(...total) - Math.min(...total)).toBeLessThanOrEqual(1);
  });

  it('gives a full worker nothing new: it keeps its partitions and the others take what moves', () => {
    const three = assignPartitions([{ job: 'j', partitions: 12, workers: ['w1', 'w2', 'w3'] }], {});
    // w3 dies; w1 is near its memory limit: w3's partitions all go to w2, w1 keeps its own.
    const after = assignPartitions([{ job: 'j', partitions: 12, workers: ['w1', 'w2'], full: ['w1'] }], three);
    expect(after.j!.filter((o) => o === 'w1').length).toBe(4);
    expect(after.j!.filter((o) => o === 'w2').length).toBe(8);
    for (const m of movedPartitions(three, after)) expect(m.to).toBe('w2');
  });

  it('leaves partitions without an owner when every worker is full, and places them once one has room', () => {
    const two = assignPartitions([{ job: 'j', partitions: 8, workers: ['w1', 'w2', 'w3'] }], {});
    const full = assignPartitions([{ job: 'j', partitions: 8, workers: ['w1', 'w2'], full: ['w1', 'w2'] }], two);
    expect(full.j!.filter((o) => o === null).length).toBe(two.j!.filter((o) => o === 'w3').length);
    expect(full.j!.every((o, p) => o === null || o === two.j![p])).toBe(true);
    const room = assignPartitions([{ job: 'j', partitions: 8, workers: ['w1', 'w2'], full: ['w1'] }], full);
    expect(room.j!.every((o) => o !== null)).toBe(true);
  });
});
