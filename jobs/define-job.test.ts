import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { count } from '../engine/aggregates/count.ts';
import { sum } from '../engine/aggregates/sum.ts';
import { tumbling } from '../engine/assigners/tumbling.ts';
import { defineJob, type JobDefinition } from './define-job.ts';

const schema = z.object({ id: z.string(), v: z.number(), at: z.number() });
type Row = z.infer<typeof schema>;
const valid: JobDefinition<Row> = { name: 'rows', schema, key: 'id', eventTime: 'at', window: tumbling('10s'), aggregates: { n: count(), total: sum('v') } };

describe('defining a job', () => {
  it('fills in documented defaults', () => {
    const job = defineJob(valid);
    expect(job).toMatchObject({
      name: 'rows',
      partitions: 16,
      subject: 'shardflow.ingest.rows',
      maxOutOfOrderness: 0,
      idleTimeout: 30_000,
      allowedLateness: 0,
      routers: 2,
      sink: { type: 'kv' },
      limits: { maxEventBytes: 1024 * 1024, maxFutureSkew: 300_000, maxKeyBytes: 512, maxKeys: 100_000, maxOpenWindows: 1_000_000, maxStateBytes: 64 * 1024 * 1024 },
      retention: { input: { maxAge: 7 * 86_400_000, maxBytes: 1024 ** 3 }, deadLetters: { maxAge: 7 * 86_400_000, maxBytes: 64 * 1024 ** 2 } },
    });
  });

  it('joins several key fields with "|"', () => {
    const job = defineJob({ ...valid, key: ['id', 'v'] });
    expect(job.keyOf({ id: 'a', v: 2, at: 0 })).toBe('a|2');
  });

  it('reports every problem of a bad definition at once, with what to write instead', () => {
    let message = '';
    try {
      defineJob({
        ...valid,
        name: 'Bad Name',
        source: { partitions: 0 },
        aggregates: {},
        allowedLateness: 'a while',
        sink: { type: 'postgres', url: '', table: 'Bad-Table' },
        limits: { maxKeyBytes: 0, maxFutureSkew: 'later' },
        retention: { input: { maxBytes: 10 }, results: {} },
      } as unknown as JobDefinition<Row>);
    } catch (err) {
      expect(err).toMatchObject({ code: 'JOB_INVALID', domain: 'user', retryable: false });
      message = (err as Error).message;
    }
    expect(message).toMatch(/name "Bad Name" must be 1-48 lowercase letters/);
    expect(message).toMatch(/source.partitions must be a whole number from 1 to 1024, got 0/);
    expect(message).toMatch(/at least one aggregate/);
    expect(message).toMatch(/allowedLateness: "a while" is not a duration/);
    expect(message).toMatch(/sink: .*table/);
    expect(message).toMatch(/limits.maxKeyBytes must be a whole number >= 1, got 0/);
    expect(message).toMatch(/limits.maxFutureSkew: "later" is not a duration/);
    expect(message).toMatch(/retention.input.maxBytes must be a whole number of bytes >= 1 MiB, got 10/);
    expect(message).toMatch(/retention.results is not a stream of the job/);
  });
});
