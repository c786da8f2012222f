import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.ts';
import type { LateEvent, WindowResult } from '../../engine/records.ts';
import { classifyUserEvent } from '../../test/seed-oracles/user-activity.ts';
import { runLocal } from '../local-runner.ts';
import { userActivity, userEventGenerator, type UserEvent } from './user-activity.ts';

// Four minutes before midnight: 5,000 events at 20 per second cross into the next day.
const START = Date.UTC(2026, 5, 30, 23, 56);
const INGEST = START + 3_600_000;
const DAY = 86_400_000;

function generate(seed: number, n: number, dirtyShare?: number): string[] {
  const random = seededRandom(seed);
  const gen = dirtyShare === undefined ? userActivity.generate! : userEventGenerator({ dirtyShare });
  return Array.from({ length: n }, (_, i) => gen(random, i, START));
}

/** The expected dead-letter reason of a line, or the event (the seed oracle's independent validation). */
const classify = (raw: string) => classifyUserEvent(raw, INGEST);

const results = (records: { type: string }[]) => records.filter((r): r is WindowResult => r.type === 'result');

describe('the user-activity job (seed 002)', () => {
  it('gives event_count and unique_users per day and event type, as plain loops over the events do', () => {
    const raws = generate(2, 5_000);
    const run = runLocal(userActivity, raws, { ingestTime: () => INGEST });

    const days = new Map<string, { n: number; users: Set<string> }>();
    for (const raw of raws) {
      const e = classify(raw);
      if (typeof e === 'string') continue;
      const id = `${e.type}|${e.t - (e.t % DAY)}`;
      const d = days.get(id) ?? { n: 0, users: new Set() };
      d.n++;
      d.users.add(e.user);
      days.set(id, d);
    }

    expect(run.records.filter((r) => r.type !== 'result')).toEqual([]); // within the 10-minute bound: none late
    const rows = results(run.records);
    const got = new Map(rows.map((r) => [`${r.key}|${r.start}`, r]));
    expect(got.size).toBe(rows.length);
    expect([...got.keys()].sort()).toEqual([...days.keys()].sort());
    for (const [id, d] of days) {
      expect(got.get(id)!.values, id).toEqual({ event_count: d.n, unique_users: d.users.size });
      expect(got.get(id)!.end - got.get(id)!.start).toBe(DAY);
    }
    expect(new Set(rows.map((r) => r.start))).toEqual(new Set([Date.UTC(2026, 5, 30), Date.UTC(2026, 6, 1)]));
    expect(new Set(rows.map((r) => r.key))).toContain('SEARCH'); // a new type needs no code change
    expect(rows.some((r) => (r.values.unique_users as number) < (r.values.event_count as number))).toBe(true);
  });

  it('updates a day already written with events up to an hour late, and sends later ones to the side output', () => {
    const day = Date.UTC(2026, 5, 30);
    const midnight = day + DAY;
    const click = (user: string, t: number) => JSON.stringify({ user_id: user, event_type: 'CLICK', ts: new Date(t).toISOString() });
    const raws = [
      click('u-1', day + 10 * 3_600_000),
      click('u-2', midnight - 60_000),
      click('u-1', midnight - 1), // 4 minutes late: within the bound, on time
      click('u-3', midnight + 3 * 60_000),
      click('u-3', midnight + 20 * 60_000), // watermark 00:10: the day fires
      click('u-4', midnight - 5 * 60_000), // 25 minutes late: within the allowed hour, an update
      click('u-4', midnight + 75 * 60_000), // watermark 01:05: the day is closed
      click('u-5', midnight - 2 * 60_000), // too late
    ];
    // Ingested after the last of them: none is ahead of its ingest time by more than the job allows.
    const run = runLocal(userActivity, raws, { ingestTime: () => midnight + 2 * 3_600_000 });
    const dayRows = results(run.records).filter((r) => r.start === day);
    expect(dayRows.map((r) => [r.revision, r.values])).toEqual([
      [0, { event_count: 3, unique_users: 2 }],
      [1, { event_count: 4, unique_users: 3 }],
    ]);
    const late = run.records.filter((r): r is LateEvent<UserEvent> & { partition: number } => r.type === 'late');
    expect(late.map((l) => [l.reason, l.eventTime])).toEqual([['window-closed', midnight - 2 * 60_000]]);
    expect(late[0]!.message).toMatch(/behind the watermark .* by more than the allowed lateness \(3600000ms\)/);
    expect(results(run.records).filter((r) => r.start === midnight).map((r) => r.values)).toEqual([{ event_count: 3, unique_users: 2 }]);
  });

  it('dead-letters every record that breaks the schema or has a bad time, with the right reason', () => {
    const raws = generate(6, 3_000, 0.15);
    const run = runLocal(userActivity, raws, { ingestTime: () => INGEST });
    const expected = new Map<number, string>();
    raws.forEach((raw, i) => {
      const e = classify(raw);
      if (typeof e === 'string') expected.set(i, e);
    });
    expect(new Map(run.deadLetters.map((d) => [d.position, d.reason]))).toEqual(expected);
    expect(new Set(expected.values())).toEqual(new Set(['malformed-json', 'schema-violation', 'invalid-event-time', 'event-time-out-of-range']));
    const messages = run.deadLetters.map((d) => d.message).join('\n');
    expect(messages).toContain('event_type: must be an UPPER_SNAKE_CASE event type');
    expect(messages).toContain('user_id: is required: a string user id');
    expect(messages).toContain('amount: is required for a PURCHASE');
    expect(messages).toMatch(/event time 1970-.* is before the job's earliest accepted time/);
    const counted = results(run.records).reduce((n, r) => n + (r.values.event_count as number), 0);
    expect(counted).toBe(raws.length - expected.size);
  });

  it('gives the same output for the same seed', () => {
    const once = runLocal(userActivity, generate(8, 2_000), { ingestTime: () => INGEST });
    expect(runLocal(userActivity, generate(8, 2_000), { ingestTime: () => INGEST })).toEqual(once);
    expect(runLocal(userActivity, generate(9, 2_000), { ingestTime: () => INGEST }).records).not.toEqual(once.records);
  });
});
