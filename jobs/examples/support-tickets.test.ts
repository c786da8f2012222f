import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.ts';
import type { WindowResult } from '../../engine/records.ts';
import { describeDiff, diffRows, isEmptyDiff, localRows } from '../../test/seed-oracles/oracle.ts';
import { classifyTicket, supportTicketsOracle } from '../../test/seed-oracles/support-tickets.ts';
import { runLocal } from '../local-runner.ts';
import { supportTickets, ticketGenerator } from './support-tickets.ts';

// Two minutes before midnight UTC at the end of August: the run crosses an hour, a day and a month.
const START = Date.UTC(2026, 7, 31, 23, 58);
const INGEST = START + 3_600_000;

function generate(seed: number, n: number, dirtyShare?: number): string[] {
  const random = seededRandom(seed);
  const gen = dirtyShare === undefined ? supportTickets.generate! : ticketGenerator({ dirtyShare });
  return Array.from({ length: n }, (_, i) => gen(random, i, START));
}

/** The expected dead-letter reason of a line, or the ticket (the seed oracle's independent validation). */
const classify = (raw: string) => classifyTicket(raw, INGEST);

describe('the support-tickets job (seed 004)', () => {
  it('writes one document of metrics per 30 s window, equal to plain loops over the tickets', () => {
    const raws = generate(4, 5_000);
    const run = runLocal(supportTickets, raws, { ingestTime: () => INGEST });

    const expected = supportTicketsOracle(raws, INGEST);
    expect(run.records.filter((r) => r.type !== 'result')).toEqual([]); // within the 5 s bound: none late
    const results = run.records.filter((r): r is WindowResult & { partition: number } => r.type === 'result');
    // One document per window, in time order, each equal to the oracle's plain loops.
    expect(results.map((r) => `${r.key}|${r.start}|${r.end}`)).toEqual([...expected.rows.keys()].sort());
    const diff = diffRows(expected.rows, localRows(run.records).rows);
    expect(isEmptyDiff(diff), describeDiff(diff)).toBe(true);
    // Windows are aligned to event time, so each one falls within one hour and day (unlike Spark's
    // processing-time batches); the run's windows fall on both sides of midnight.
    expect(new Set(results.flatMap((r) => Object.keys(r.values.tickets_per_day as object)))).toEqual(new Set(['2026-08-31', '2026-09-01']));
    expect(new Set(results.flatMap((r) => Object.keys(r.values.tickets_per_hour as object)))).toEqual(new Set(['23', '0']));
    expect(results.some((r) => 'Triage' in (r.values.tickets_per_team as object))).toBe(true); // an unmapped type is kept
  });

  it('dead-letters every dirty ticket with the right reason and counts every good one', () => {
    const raws = generate(12, 3_000, 0.15);
    const run = runLocal(supportTickets, raws, { ingestTime: () => INGEST });
    const expected = new Map<number, string>();
    raws.forEach((raw, i) => {
      const e = classify(raw);
      if (typeof e === 'string') expected.set(i, e);
    });
    expect(new Map(run.deadLetters.map((d) => [d.position, d.reason]))).toEqual(expected);
    expect(new Set(expected.values())).toEqual(new Set(['malformed-json', 'schema-violation', 'missing-event-time', 'invalid-event-time', 'event-time-out-of-range']));
    const messages = run.deadLetters.map((d) => d.message).join('\n');
    expect(messages).toContain('priority: must be one of low, medium, high, urgent (any case)');
    expect(messages).toContain('ticket_id: is required: the ticket id as a string');
    expect(messages).toContain('type: is required: the ticket type');
    const counted = run.records.reduce((n, r) => n + (r.type === 'result' ? (r.values.total_tickets as number) : 0), 0);
    expect(counted).toBe(raws.length - expected.size);
  });

  it('gives byte-identical documents for the same seed', () => {
    const docs = (seed: number) => JSON.stringify(runLocal(supportTickets, generate(seed, 2_000), { ingestTime: () => INGEST }).records);
    expect(docs(5)).toBe(docs(5));
    expect(docs(6)).not.toBe(docs(5));
  });
});
