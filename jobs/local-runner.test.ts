import { describe, expect, it } from 'vitest';
import { seededRandom } from '../common/random.ts';
import type { WindowResult } from '../engine/records.ts';
import { stationSentiment } from './examples/station-sentiment.ts';
import { sentimentScore } from './examples/sentiment.ts';
import { runLocal } from './local-runner.ts';

describe('running the station-sentiment job in one process', () => {
  it('counts every good event exactly once and dead-letters every dirty one with a reason', () => {
    const start = Date.UTC(2026, 10, 24, 8);
    const random = seededRandom(7);
    const raws = Array.from({ length: 6_000 }, (_, i) => stationSentiment.generate!(random, i, start));
    const run = runLocal(stationSentiment, raws, { ingestTime: () => start + 3_600_000 });

    // Independent oracle: parse the raw lines directly and group by (station|service, minute).
    const expected = new Map<string, { n: number; ratings: number; sentiment: number }>();
    let bad = 0;
    for (const raw of raws) {
      let e: { station_id?: unknown; service?: unknown; rating?: unknown; comment?: string; ts?: unknown };
      try {
        e = JSON.parse(raw);
      } catch {
        bad++;
        continue;
      }
      const t = typeof e.ts === 'string' ? Date.parse(e.ts) : NaN;
      if (typeof e.rating !== 'number' || !Number.isFinite(t) || t > start + 3_600_000 + 86_400_000) {
        bad++;
        continue;
      }
      const minute = t - (t % 60_000);
      const id = `${e.station_id}|${e.service}|${minute}`;
      const agg = expected.get(id) ?? { n: 0, ratings: 0, sentiment: 0 };
      agg.n++;
      agg.ratings += e.rating;
      agg.sentiment += sentimentScore(e.comment ?? '');
      expected.set(id, agg);
    }

    expect(run.deadLetters.length).toBe(bad);
    expect(bad).toBeGreaterThan(50);
    expect(new Set(run.deadLetters.map((d) => d.reason))).toEqual(new Set(['malformed-json', 'schema-violation', 'event-time-out-of-range']));
    expect(run.records.filter((r) => r.type === 'late')).toEqual([]); // generator stays within the 5 s bound

    const results = run.records.filter((r): r is WindowResult & { partition: number } => r.type === 'result');
    const got = new Map(results.map((r) => [`${r.key}|${r.start}`, r]));
    expect(got.size).toBe(results.length); // one result per key and window: no duplicates
    expect(got.size).toBe(expected.size);
    let total = 0;
    for (const [id, agg] of expected) {
      const r = got.get(id);
      expect(r, id).toBeDefined();
      expect(r!.values.feedback).toBe(agg.n);
      expect(r!.values.avg_rating).toBeCloseTo(agg.ratings / agg.n, 9);
      expect(r!.values.avg_sentiment).toBeCloseTo(agg.sentiment / agg.n, 9);
      total += agg.n;
    }
    expect(total + bad).toBe(raws.length);
    expect(results.some((r) => r.key.endsWith('|Restauration'))).toBe(true); // a new service, no code change
  });
});
