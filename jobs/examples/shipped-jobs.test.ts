import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.ts';
import { getJob, jobNames } from '../catalog.ts';
import { decodeEvent } from '../event-decoder.ts';

const SEED_JOBS = ['station-sentiment', 'openfood-nutriscore', 'openfood-brands', 'user-activity', 'crypto-prices', 'support-tickets', 'wikimedia-edits'];
/** The seed pipelines' jobs, then the benchmark jobs (their generators follow their benchmark, see their tests). */
const SHIPPED_JOBS = [...SEED_JOBS, 'nexmark-q5'];
const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
/** Columns every sink row has besides the aggregates. */
const SINK_COLUMNS = ['job', 'key', 'window_start', 'window_end', 'revision', 'updated_at'];

describe('the jobs that ship', () => {
  it('are all in the catalog under their names', () => {
    expect(jobNames()).toEqual(SHIPPED_JOBS);
    for (const name of SHIPPED_JOBS) expect(getJob(name).name).toBe(name);
  });

  it('name their aggregates and tables as SQL identifiers and leave the connection to the cluster', () => {
    for (const name of SHIPPED_JOBS) {
      const job = getJob(name);
      for (const aggregate of Object.keys(job.aggregates)) {
        expect(aggregate, `${name}.${aggregate}`).toMatch(SQL_IDENTIFIER);
        expect(SINK_COLUMNS, `${name}.${aggregate}`).not.toContain(aggregate);
      }
      if (job.sink.type === 'postgres') {
        expect(job.sink.table).toMatch(SQL_IDENTIFIER);
        expect(job.sink.url).toBeUndefined(); // the cluster's SHARDFLOW_POSTGRES_URL applies
      }
    }
    expect(getJob('openfood-nutriscore').sink).toEqual({ type: 'postgres', table: 'openfood_nutriscore' });
    expect(getJob('openfood-brands').sink).toEqual({ type: 'postgres', table: 'openfood_brands' });
    expect(getJob('crypto-prices').sink).toEqual({ type: 'postgres', table: 'crypto_ohlc' });
    expect(getJob('support-tickets').sink).toEqual({ type: 'files' });
    expect(getJob('user-activity').sink).toEqual({ type: 'kv' });
    expect(getJob('nexmark-q5').sink).toEqual({ type: 'kv' });
  });

  it.each(SEED_JOBS.slice(1))('%s: generates one dirty record in fifty, and clean ones 50 ms apart within the watermark bound', (name) => {
    const job = getJob(name);
    const start = Date.UTC(2026, 0, 15, 12);
    const random = seededRandom(99);
    const n = 5_000;
    let dirty = 0;
    const outOfBound: number[] = [];
    for (let i = 0; i < n; i++) {
      const decoded = decodeEvent(job, job.generate!(random, i, start), start + 3_600_000);
      if (!decoded.ok) {
        dirty++;
        continue;
      }
      // The local cluster and `shardflow run` anchor event times on this spacing.
      const due = start + i * 50;
      if (decoded.eventTime > due || decoded.eventTime < due - job.maxOutOfOrderness) outOfBound.push(i);
    }
    expect(outOfBound).toEqual([]);
    expect(dirty / n).toBeGreaterThan(0.012);
    expect(dirty / n).toBeLessThan(0.028);
  });
});
