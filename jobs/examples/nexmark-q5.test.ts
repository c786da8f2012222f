// The q5 job against an oracle of plain loops over the same generated bids, and its generator's shape.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.ts';
import type { WindowResult } from '../../engine/records.ts';
import { decodeEvent } from '../event-decoder.ts';
import { runLocal, type LocalRun } from '../local-runner.ts';
import { bidGenerator, nexmarkQ5, type Bid } from './nexmark-q5.ts';

const START = Date.UTC(2026, 2, 9, 14, 0, 1);
const INGEST = START + 3_600_000;
const SIZE = 10_000;
const SLIDE = 2_000;

function generate(seed: number, n: number, dirtyShare?: number): string[] {
  const random = seededRandom(seed);
  const gen = dirtyShare === undefined ? nexmarkQ5.generate! : bidGenerator({ dirtyShare });
  return Array.from({ length: n }, (_, i) => gen(random, i, START));
}

const wholeId = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const text = (v: unknown, min: number, max: number) => typeof v === 'string' && v.length >= min && v.length <= max;

/** The independent oracle: validation and q5's counts by plain loops over the raw lines. */
function oracle(raws: string[]) {
  const rejected = new Map<number, string>();
  /** "auction|window start" -> bids. */
  const counts = new Map<string, number>();
  raws.forEach((raw, position) => {
    let b: Record<string, unknown>;
    try {
      b = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      rejected.set(position, 'malformed-json');
      return;
    }
    const ok =
      wholeId(b.auction) && wholeId(b.bidder) && Number.isInteger(b.price) && (b.price as number) > 0 && text(b.channel, 1, 64) && text(b.url, 0, 512) && Number.isInteger(b.dateTime) && text(b.extra, 0, 1_024);
    if (!ok) {
      rejected.set(position, 'schema-violation');
      return;
    }
    const t = b.dateTime as number;
    // Every window [s, s + 10 s) with s a multiple of 2 s that holds t.
    for (let s = t - (t % SLIDE); s > t - SIZE; s -= SLIDE) {
      const id = `${b.auction}|${s}`;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  });
  return { rejected, counts };
}

/** Per window start, the auction with the most bids (the smaller id on a tie) and its bids. */
function hotItems(rows: Iterable<[auction: string, start: number, bids: number]>): Map<number, { auction: string; bids: number; total: number }> {
  const hot = new Map<number, { auction: string; bids: number; total: number }>();
  for (const [auction, start, bids] of rows) {
    const h = hot.get(start);
    if (!h) hot.set(start, { auction, bids, total: bids });
    else {
      h.total += bids;
      if (bids > h.bids || (bids === h.bids && Number(auction) < Number(h.auction))) Object.assign(h, { auction, bids });
    }
  }
  return hot;
}

/** 150 s of bids through the job, shared by the tests that compare with the oracle (one run is enough). */
let shared: { raws: string[]; run: LocalRun<Bid> } | undefined;
function sample() {
  if (!shared) {
    const raws = generate(5, 3_000);
    shared = { raws, run: runLocal(nexmarkQ5, raws, { ingestTime: () => INGEST }) };
  }
  return shared;
}

describe('the nexmark-q5 job (hot items)', () => {
  it('counts the bids of every auction in every 10 s window sliding by 2 s, as plain loops over the bids do', () => {
    const { raws, run } = sample();
    const { rejected, counts } = oracle(raws);

    expect(run.records.filter((r) => r.type !== 'result')).toEqual([]); // within the 1 s bound: none late
    const results = run.records.filter((r): r is WindowResult & { partition: number } => r.type === 'result');
    for (const r of results) expect(r.end - r.start).toBe(SIZE);
    const got = new Map(results.map((r) => [`${r.key}|${r.start}`, r.values.bids as number]));
    expect(got.size).toBe(results.length);
    expect(got).toEqual(counts);
    expect(new Map(run.deadLetters.map((d) => [d.position, d.reason]))).toEqual(rejected);
    // Each clean bid is in exactly 5 windows.
    expect([...got.values()].reduce((a, b) => a + b, 0)).toBe((raws.length - rejected.size) * (SIZE / SLIDE));
  });

  it('ranks the same hot item first in every window as the oracle does, and the hot auction draws about half the bids', () => {
    const { raws, run } = sample();
    const results = run.records.filter((r): r is WindowResult & { partition: number } => r.type === 'result');
    const fromRun = hotItems(results.map((r) => [r.key, r.start, r.values.bids as number]));
    const fromOracle = hotItems(
      [...oracle(raws).counts].map(([id, bids]) => {
        const [auction, start] = id.split('|');
        return [auction!, Number(start), bids];
      }),
    );
    expect(fromRun).toEqual(fromOracle);
    expect(fromRun.size).toBeGreaterThan(70); // 150 s of bids
    // Nexmark's skew: one bid in two goes to the hot auction, which changes every 100 auctions (about
    // 90 s here), so in most windows one auction takes about half of the bids.
    const shares = [...fromRun.values()].map((h) => h.bids / h.total).sort((a, b) => a - b);
    expect(shares[Math.floor(shares.length / 2)]!).toBeGreaterThan(0.4);
    expect(new Set([...fromRun.values()].map((h) => h.auction)).size).toBeGreaterThan(1);
  });

  it('generates about one dirty record in two hundred, and clean bids 50 ms apart within the watermark bound', () => {
    const n = 10_000;
    const random = seededRandom(99);
    let dirty = 0;
    const outOfBound: number[] = [];
    for (let i = 0; i < n; i++) {
      const decoded = decodeEvent(nexmarkQ5, nexmarkQ5.generate!(random, i, START), INGEST);
      if (!decoded.ok) {
        dirty++;
        continue;
      }
      const due = START + i * 50;
      if (decoded.eventTime > due || decoded.eventTime < due - nexmarkQ5.maxOutOfOrderness) outOfBound.push(i);
    }
    expect(outOfBound).toEqual([]);
    expect(dirty / n).toBeGreaterThan(0.003);
    expect(dirty / n).toBeLessThan(0.008);
  });

  it('dead-letters malformed bids and bids missing fields with the reason and the field', () => {
    const raws = generate(13, 2_000, 0.2);
    const run = runLocal(nexmarkQ5, raws, { ingestTime: () => INGEST });
    expect(new Map(run.deadLetters.map((d) => [d.position, d.reason]))).toEqual(oracle(raws).rejected);
    const messages = run.deadLetters.map((d) => d.message).join('\n');
    expect(messages).toContain("auction: is required: the auction's id, a Nexmark id, a whole number >= 0");
    expect(messages).toContain("auction: must be the auction's id, a Nexmark id, a whole number >= 0");
    expect(messages).toContain('dateTime: is required: the bid time in epoch milliseconds');
    expect(messages).toContain('price: must be the price in cents, a whole number > 0');
    expect(messages).toContain('price: must be more than 0 cents');
    expect(messages).toContain('channel: must be at most 64 characters');
    expect(new Set(run.deadLetters.map((d) => d.reason))).toEqual(new Set(['malformed-json', 'schema-violation']));
  });

  it('gives the same output for the same seed and another for another seed', () => {
    const once = runLocal(nexmarkQ5, generate(21, 1_000), { ingestTime: () => INGEST });
    expect(runLocal(nexmarkQ5, generate(21, 1_000), { ingestTime: () => INGEST })).toEqual(once);
    expect(runLocal(nexmarkQ5, generate(22, 1_000), { ingestTime: () => INGEST }).records).not.toEqual(once.records);
  });
});
