// The seed oracles against the in-process runner, on each job's own seeded generator output (dirty
// records included): both must agree before the oracles can judge a cluster. Disagreement means a bug
// in one of them, which this test cannot tell apart, but the cluster tests would otherwise blame the
// cluster.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.ts';
import { getJob } from '../../jobs/catalog.ts';
import { runLocal } from '../../jobs/local-runner.ts';
import { describeDiff, diffRows, isEmptyDiff, localRows, SEED_ORACLES } from './index.ts';

const START = Date.UTC(2026, 7, 31, 23, 57, 30); // the runs cross a minute, an hour, a day and a month
const INGEST = START + 3_600_000;

describe('the seed oracles', () => {
  it.each(Object.keys(SEED_ORACLES))('%s: the oracle gives the results and dead letters of a local run of the job', (name) => {
    const job = getJob(name);
    const random = seededRandom(7);
    // The generator's lines, and JSON that is not an event at all.
    const raws = [...Array.from({ length: 6_000 }, (_, i) => job.generate!(random, i, START)), '42', 'null', '[1, 2]', '"text"', '{}'];
    const run = runLocal(job, raws, { ingestTime: () => INGEST });
    const expected = SEED_ORACLES[name]!(raws, INGEST);

    expect(run.records.filter((r) => r.type !== 'result')).toEqual([]); // none late, as the oracles assume
    const local = localRows(run.records);
    expect(local.duplicates).toEqual([]);
    const diff = diffRows(expected.rows, local.rows);
    expect(isEmptyDiff(diff), describeDiff(diff)).toBe(true);
    expect(new Map(run.deadLetters.map((d) => [d.position, d.reason]))).toEqual(expected.deadLetters);
    expect(expected.deadLetters.size).toBeGreaterThan(60);
    expect(new Set(expected.deadLetters.values()).size).toBeGreaterThan(2);
  });
});
