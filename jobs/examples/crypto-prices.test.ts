import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.ts';
import type { WindowResult } from '../../engine/records.ts';
import { runLocal } from '../local-runner.ts';
import { cryptoPrices, tickGenerator } from './crypto-prices.ts';

const START = Date.UTC(2026, 2, 9, 14, 0, 30);
const INGEST = START + 3_600_000;

function generate(seed: number, n: number, dirtyShare?: number): string[] {
  const random = seededRandom(seed);
  const gen = dirtyShare === undefined ? cryptoPrices.generate! : tickGenerator({ dirtyShare });
  return Array.from({ length: n }, (_, i) => gen(random, i, START));
}

interface Bar {
  open: number;
  openAt: number;
  high: number;
  low: number;
  close: number;
  closeAt: number;
  volume: number;
  ticks: number;
  /** Ticks sharing the open's time. */
  openTies: number;
}

const DECIMAL = /^\s*\d+(\.\d+)?(e[+-]?\d+)?\s*$/i;
const asAmount = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && DECIMAL.test(v) ? Number(v) : Number.NaN);

/** Independent oracle: the cleaning rules and the OHLCV bars, by plain loops over the raw lines. */
function oracle(raws: string[]) {
  const reasons = new Map<number, string>();
  const bars = new Map<string, Bar>();
  raws.forEach((raw, position) => {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(raw);
    } catch {
      reasons.set(position, 'malformed-json');
      return;
    }
    const price = asAmount(e.price_usd);
    const volume = asAmount(e.volume);
    const ok =
      typeof e.asset === 'string' && /^[a-z0-9]+(-[a-z0-9]+)*$/.test(e.asset) && price > 0 && Number.isFinite(price) && volume >= 0 && typeof e.ts === 'number';
    if (!ok) {
      reasons.set(position, 'schema-violation');
      return;
    }
    const t = e.ts as number;
    if (t < Date.UTC(2000, 0, 1) || t > INGEST + 86_400_000) {
      reasons.set(position, 'event-time-out-of-range');
      return;
    }
    const id = `${e.asset}|${t - (t % 60_000)}`;
    const bar = bars.get(id);
    if (bar === undefined) {
      bars.set(id, { open: price, openAt: t, high: price, low: price, close: price, closeAt: t, volume, ticks: 1, openTies: 1 });
      return;
    }
    if (t < bar.openAt) Object.assign(bar, { open: price, openAt: t, openTies: 1 });
    else if (t === bar.openAt) bar.openTies++;
    if (t >= bar.closeAt) Object.assign(bar, { close: price, closeAt: t });
    bar.high = Math.max(bar.high, price);
    bar.low = Math.min(bar.low, price);
    bar.volume += volume;
    bar.ticks++;
  });
  return { reasons, bars };
}

describe('the crypto-prices job (seed 003)', () => {
  it('builds every one-minute OHLCV bar of every asset from the clean ticks, as a plain fold over them does', () => {
    const raws = generate(3, 5_000);
    const run = runLocal(cryptoPrices, raws, { ingestTime: () => INGEST });
    const { reasons, bars } = oracle(raws);

    expect(run.records.filter((r) => r.type !== 'result')).toEqual([]); // ticks stay within the 2 s bound: none late
    const results = run.records.filter((r): r is WindowResult & { partition: number } => r.type === 'result');
    const got = new Map(results.map((r) => [`${r.key}|${r.start}`, r]));
    expect(got.size).toBe(results.length);
    expect([...got.keys()].sort()).toEqual([...bars.keys()].sort());
    let ticks = 0;
    for (const [id, bar] of bars) {
      const r = got.get(id)!;
      expect(r.end - r.start).toBe(60_000);
      expect(r.values, id).toMatchObject({ open: bar.open, high: bar.high, low: bar.low, close: bar.close, tick_count: bar.ticks });
      expect(r.values.volume as number).toBeCloseTo(bar.volume, 6);
      ticks += bar.ticks;
    }
    expect(ticks + reasons.size).toBe(raws.length); // every clean tick counted once
    expect(bars.size).toBeGreaterThan(40); // 12 assets over 5 minutes
    expect([...bars.values()].filter((b) => b.openTies > 1).length).toBeGreaterThan(0); // the tie rule was exercised
  });

  it('dead-letters every dirty tick with the reason and a message naming the field', () => {
    const raws = generate(11, 3_000, 0.1);
    const run = runLocal(cryptoPrices, raws, { ingestTime: () => INGEST });
    const { reasons } = oracle(raws);

    expect(new Map(run.deadLetters.map((d) => [d.position, d.reason]))).toEqual(reasons);
    expect(reasons.size).toBeGreaterThan(200);
    for (const d of run.deadLetters) {
      const tick = d.reason === 'schema-violation' ? (JSON.parse(d.raw) as Record<string, unknown>) : undefined;
      if (tick && !(typeof tick.price_usd === 'number' && tick.price_usd > 0)) {
        expect(d.message).toMatch(/price_usd: (is missing: every tick needs a positive number \(USD\)|must be a positive number \(USD\), got )/);
      }
    }
    const messages = run.deadLetters.map((d) => d.message).join('\n');
    expect(messages).toContain('price_usd: must be a positive number (USD), got 0');
    expect(messages).toContain('price_usd: must be a positive number (USD), got "N/A"');
    expect(messages).toContain('price_usd: is missing');
    expect(messages).toContain('volume: must be a number >= 0 (units of the asset traded), got -0.5');
    expect(messages).toContain('asset: must be a CoinCap asset id');
    expect(messages).toContain('ts: must be the tick time in epoch milliseconds');
    expect(new Set(run.deadLetters.map((d) => d.reason))).toEqual(new Set(['malformed-json', 'schema-violation', 'event-time-out-of-range']));
  });

  it('accepts prices sent as decimal strings, as CoinCap does', () => {
    const raws = generate(5, 2_000, 0);
    expect(raws.some((r) => typeof (JSON.parse(r) as { price_usd: unknown }).price_usd === 'string')).toBe(true);
    expect(runLocal(cryptoPrices, raws, { ingestTime: () => INGEST }).deadLetters).toEqual([]);
  });

  it('gives the same output for the same seed and another for another seed', () => {
    const once = runLocal(cryptoPrices, generate(21, 2_000), { ingestTime: () => INGEST });
    const again = runLocal(cryptoPrices, generate(21, 2_000), { ingestTime: () => INGEST });
    const other = runLocal(cryptoPrices, generate(22, 2_000), { ingestTime: () => INGEST });
    expect(again).toEqual(once);
    expect(other.records).not.toEqual(once.records);
  });
});
