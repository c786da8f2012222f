import { parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { stationSentiment } from '../jobs/examples/station-sentiment.ts';
import { columnData, planColumns } from './parquet-columns.ts';

const typesOf = (schema: z.ZodType) => Object.fromEntries(planColumns(schema).columns.map((c) => [c.name, `${c.type}${c.nullable ? '?' : ''}`]));

describe('planColumns', () => {
  it('maps scalar fields to Parquet types and optional or default ones to nullable columns', () => {
    const schema = z.object({
      s: z.string(),
      small: z.number().int().min(0).max(100),
      big: z.number().int(),
      x: z.number(),
      b: z.boolean().optional(),
      d: z.string().default(''),
      n: z.number().nullable(),
      e: z.enum(['a', 'b']),
      when: z.date(),
    });
    expect(typesOf(schema)).toEqual({
      s: 'STRING', small: 'INT32', big: 'INT64', x: 'DOUBLE', b: 'BOOLEAN?', d: 'STRING?', n: 'DOUBLE?', e: 'STRING', when: 'TIMESTAMP',
      _seq: 'INT64', _index: 'INT32', _partition: 'INT32', _event_time: 'TIMESTAMP', _ingest_time: 'TIMESTAMP',
    });
    expect(planColumns(schema).notes).toEqual([]);
  });

  it('writes a mixed union or a nested value as JSON text and says so', () => {
    const plan = planColumns(stationSentiment.schema);
    expect(plan.mode).toBe('fields');
    expect(plan.columns.find((c) => c.name === 'ts')?.type).toBe('JSON');
    expect(plan.columns.find((c) => c.name === 'rating')?.type).toBe('INT32');
    expect(plan.notes).toEqual(['field "ts" (string | number) is not a scalar: written as JSON text']);
  });

  it('falls back to one JSON column for a schema that is not an object, or whose field takes a metadata name', () => {
    for (const schema of [z.array(z.number()), z.object({ _seq: z.string() })]) {
      const plan = planColumns(schema);
      expect(plan.mode).toBe('json');
      expect(plan.columns.map((c) => c.name)).toEqual(['event', '_seq', '_index', '_partition', '_event_time', '_ingest_time']);
      expect(plan.notes[0]).toMatch(/written whole to the JSON column "event"/);
    }
  });

  it('produces column data that round-trips through a Parquet reader', async () => {
    const schema = z.object({ s: z.string(), n: z.number().int(), o: z.boolean().optional(), j: z.union([z.string(), z.number()]) });
    const plan = planColumns(schema);
    const rows = [
      { event: { s: 'a', n: 2 ** 40, o: true, j: 'x' }, meta: { seq: 1, index: 0, partition: 3, eventTime: 1_700_000_000_000, ingestTime: 1_700_000_000_500 } },
      { event: { s: 'b', n: -1, j: 7 }, meta: { seq: 2, index: 0, partition: 0, eventTime: 1_700_000_001_000, ingestTime: 1_700_000_001_500 } },
    ];
    const buffer = parquetWriteBuffer({ columnData: columnData(plan, rows) });
    const back = await parquetReadObjects({ file: buffer });
    expect(back).toEqual([
      { s: 'a', n: 2n ** 40n, o: true, j: 'x', _seq: 1n, _index: 0, _partition: 3, _event_time: new Date(1_700_000_000_000), _ingest_time: new Date(1_700_000_000_500) },
      { s: 'b', n: -1n, o: null, j: 7, _seq: 2n, _index: 0, _partition: 0, _event_time: new Date(1_700_000_001_000), _ingest_time: new Date(1_700_000_001_500) },
    ]);
  });
});
