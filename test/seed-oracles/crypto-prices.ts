// Oracle of the crypto-prices job (seed 003): ticks with a missing, non-numeric, zero or negative
// price (or a bad volume, asset or time) are dead-lettered; the clean ones of each asset fold into
// one-minute OHLCV bars. Open and close go by event time, ties by arrival (first and last).
import { eventTimeOf, MINUTE, parseJson, windowId, type Aggregates, type SeedExpectation } from './oracle.ts';

const ASSET = /^[a-z0-9]+(-[a-z0-9]+)*$/;
/** A decimal amount as CoinCap sends it in a string. */
const DECIMAL = /^\s*\d+(\.\d+)?(e[+-]?\d+)?\s*$/i;

export type Tick = { asset: string; t: number; price: number; volume: number };

function amount(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'string' && DECIMAL.test(v) ? Number(v) : Number.NaN;
}

/** The expected dead-letter reason of a raw tick, or the tick. */
export function classifyTick(raw: string, ingestTime: number): string | Tick {
  const e = parseJson(raw);
  if (e === undefined) return 'malformed-json';
  const price = amount(e.price_usd);
  const volume = amount(e.volume);
  const exchangeOk = e.exchange === undefined || (typeof e.exchange === 'string' && e.exchange.length <= 64);
  const ok = typeof e.asset === 'string' && e.asset.length <= 64 && ASSET.test(e.asset) && Number.isFinite(price) && price > 0 && Number.isFinite(volume) && volume >= 0 && typeof e.ts === 'number' && exchangeOk;
  if (!ok) return 'schema-violation';
  const t = eventTimeOf(e.ts, ingestTime);
  if (typeof t === 'string') return t;
  return { asset: e.asset as string, t, price, volume };
}

type Bar = { open: number; openAt: number; high: number; low: number; close: number; closeAt: number; volume: number; ticks: number };

export function cryptoPricesOracle(raws: readonly string[], ingestTime: number): SeedExpectation {
  const deadLetters = new Map<number, string>();
  const bars = new Map<string, Bar>();
  raws.forEach((raw, position) => {
    const tick = classifyTick(raw, ingestTime);
    if (typeof tick === 'string') {
      deadLetters.set(position, tick);
      return;
    }
    const { t, price } = tick;
    const start = t - (t % MINUTE);
    const id = windowId(tick.asset, start, start + MINUTE);
    const bar = bars.get(id);
    if (bar === undefined) {
      bars.set(id, { open: price, openAt: t, high: price, low: price, close: price, closeAt: t, volume: tick.volume, ticks: 1 });
      return;
    }
    if (t < bar.openAt) Object.assign(bar, { open: price, openAt: t });
    if (t >= bar.closeAt) Object.assign(bar, { close: price, closeAt: t });
    bar.high = Math.max(bar.high, price);
    bar.low = Math.min(bar.low, price);
    bar.volume += tick.volume;
    bar.ticks++;
  });
  const rows = new Map<string, Aggregates>();
  for (const [id, b] of bars) rows.set(id, { open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume, tick_count: b.ticks });
  return { rows, deadLetters };
}
