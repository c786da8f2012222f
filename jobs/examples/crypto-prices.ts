// Seed 003: CoinCap price ticks, cleaned and rolled up into one-minute OHLCV bars per asset, for
// PostgreSQL. The Spark version read raw CoinCap documents from MongoDB in micro-batches, cast the
// prices, dropped rows whose price was missing, non-numeric, zero or negative, and wrote the clean
// rows to PostgreSQL. Here the cleaning is the schema: every rejected tick goes to the dead-letter
// stream with a message saying which field was wrong and why, and the clean ticks of each asset
// (the key) fold into event-time tumbling windows of 1 minute: open, high, low, close, volume and
// number of ticks. Open and close are by event time (ties: first and last arrival, see
// engine/aggregates/first-last.ts), so a tick that arrives out of order still lands in its place.
import { z } from 'zod';
import { intBetween, pick, type Random } from '../../common/random.ts';
import { count, first, last, max, min, sum } from '../../engine/aggregates/index.ts';
import { tumbling } from '../../engine/assigners/tumbling.ts';
import { defineJob } from '../define-job.ts';
import { httpPollSource, type SourceRecord } from '../../sources/source-spec.ts';

/**
 * A decimal amount as CoinCap sends it: a JSON number or a decimal string ("43127.51"). Missing,
 * null, non-numeric and out-of-range values are rejected with what was wrong.
 */
function amount(what: string, accept: (n: number) => boolean) {
  return z.unknown().transform((raw, ctx): number => {
    if (raw === undefined || raw === null) {
      ctx.addIssue({ code: 'custom', message: `is missing: every tick needs ${what}` });
      return z.NEVER;
    }
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+(\.\d+)?(e[+-]?\d+)?\s*$/i.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isFinite(n) || !accept(n)) {
      ctx.addIssue({ code: 'custom', message: `must be ${what}, got ${JSON.stringify(raw)}` });
      return z.NEVER;
    }
    return n;
  });
}

const Tick = z.object({
  asset: z.string({ error: 'must be a CoinCap asset id such as "bitcoin"' }).max(64, 'must be a CoinCap asset id, at most 64 characters').regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be a CoinCap asset id such as "bitcoin" or "binance-coin"'),
  price_usd: amount('a positive number (USD)', (n) => n > 0),
  volume: amount('a number >= 0 (units of the asset traded)', (n) => n >= 0),
  ts: z.number({ error: 'must be the tick time in epoch milliseconds' }),
  exchange: z.string().max(64).optional(),
});

export type Tick = z.infer<typeof Tick>;

/** Asset id, a typical price in USD, and its share of the ticks. */
const ASSETS: readonly [string, number, number][] = [
  ['bitcoin', 43_250, 0.3],
  ['ethereum', 2_310, 0.2],
  ['tether', 1.0002, 0.1],
  ['binance-coin', 312.4, 0.06],
  ['solana', 98.6, 0.08],
  ['xrp', 0.6213, 0.05],
  ['cardano', 0.5187, 0.04],
  ['dogecoin', 0.08512, 0.05],
  ['avalanche', 36.2, 0.03],
  ['polkadot', 7.21, 0.03],
  ['chainlink', 14.53, 0.03],
  ['polygon', 0.8512, 0.03],
];
const EXCHANGES = ['binance', 'coinbase', 'kraken', 'bitfinex', 'okx'];

function pickAsset(random: Random): [string, number] {
  let r = random();
  for (const [id, price, share] of ASSETS) {
    if (r < share) return [id, price];
    r -= share;
  }
  return [ASSETS[0]![0], ASSETS[0]![1]];
}

/** Kinds of dirty record, each as common as the others. */
const DIRT: ((random: Random, ts: number) => string)[] = [
  () => '{"asset": "bitcoin", "price_usd": 4312',
  (_, ts) => JSON.stringify({ asset: 'ethereum', volume: 1.5, ts }),
  (random, ts) => JSON.stringify({ asset: 'solana', price_usd: -intBetween(random, 1, 100), volume: 3, ts }),
  (_, ts) => JSON.stringify({ asset: 'dogecoin', price_usd: 0, volume: 1200, ts }),
  (random, ts) => JSON.stringify({ asset: 'xrp', price_usd: pick(random, ['N/A', '', 'NaN', '0.61,2']), volume: 10, ts }),
  (_, ts) => JSON.stringify({ asset: 'cardano', price_usd: null, volume: 10, ts }),
  (_, ts) => JSON.stringify({ asset: 42, price_usd: 1.2, volume: 10, ts }),
  (_, ts) => JSON.stringify({ asset: 'bitcoin', price_usd: 43_000, volume: -0.5, ts }),
  (_, ts) => JSON.stringify({ asset: 'ethereum', price_usd: 2_300, volume: 1, ts: new Date(ts).toISOString() }),
  (random) => JSON.stringify({ asset: 'tether', price_usd: 1, volume: 100, ts: pick(random, [0, 32_503_680_000_000]) }),
];

export interface TickGeneratorOptions {
  /** Share of dirty records, from 0 to 1. Default 0.02. */
  dirtyShare?: number;
}

/**
 * Raw CoinCap-like ticks: 20 per second of event time (the spacing every generator keeps, which
 * `shardflow run` and the local cluster rely on), stamped to the 100 ms like an exchange feed (so
 * same-time ticks happen) and up to 1.6 s out of order, within the job's 2 s bound. One price in ten
 * comes as a decimal string, as CoinCap's REST API sends it.
 */
export function tickGenerator(options: TickGeneratorOptions = {}): (random: Random, index: number, startTime: number) => string {
  const dirtyShare = options.dirtyShare ?? 0.02;
  return (random, index, startTime) => {
    const ts = Math.floor((startTime + index * 50 - intBetween(random, 0, 1_500)) / 100) * 100;
    if (random() < dirtyShare) return pick(random, DIRT)(random, ts);
    const [asset, typical] = pickAsset(random);
    // A slow swing of a few per mille plus noise: realistic bars without state between calls.
    const price = typical * (1 + 0.004 * Math.sin(index / 900 + typical) + 0.0008 * (random() - 0.5));
    const decimals = typical >= 10 ? 2 : 6;
    const priceText = price.toFixed(decimals);
    const notional = Math.exp(Math.log(20) + random() * Math.log(5_000)); // 20 to 100,000 USD
    const tick = {
      asset,
      price_usd: random() < 0.1 ? priceText : Number(priceText),
      volume: Number((notional / price).toFixed(8)),
      ts,
      exchange: pick(random, EXCHANGES),
    };
    return JSON.stringify(tick);
  };
}

export const generateTick = tickGenerator();

/**
 * A CoinCap /v2/assets asset (`{ id, symbol, priceUsd, volumeUsd24Hr, ... }`) at the response's
 * `timestamp` as a tick. Volume is 0: a snapshot of prices carries no volume traded since the last
 * one (volumeUsd24Hr is a rolling 24-hour total, which summed per minute would mean nothing).
 */
export function tickOfCoinCapAsset(asset: SourceRecord, body: unknown): unknown {
  return { asset: asset.id, price_usd: asset.priceUsd, volume: 0, ts: (body as { timestamp?: unknown }).timestamp, exchange: 'coincap' };
}

/** CoinCap's assets, polled every 10 s; an asset counts once per snapshot (its id at the snapshot's
 *  timestamp), so a poll that returns an unchanged snapshot adds nothing. */
export const coincapSource = httpPollSource({
  name: 'coincap',
  url: 'https://api.coincap.io/v2/assets?limit=100',
  interval: '10s',
  records: (body) => (body as { data?: unknown } | null)?.data,
  dedupeKey: (asset, body) => `${String(asset.id)}@${String((body as { timestamp?: unknown }).timestamp)}`,
  toEvent: tickOfCoinCapAsset,
  timeout: '10s',
  maxResponseBytes: 4 * 1024 * 1024,
});

export const cryptoPrices = defineJob({
  name: 'crypto-prices',
  description: 'CoinCap ticks cleaned (bad prices dead-lettered with a reason), then per asset and minute: open, high, low, close, volume, ticks',
  source: { partitions: 8 },
  sources: [coincapSource],
  schema: Tick,
  key: 'asset',
  eventTime: 'ts',
  window: tumbling('1m'),
  watermark: { maxOutOfOrderness: '2s', idleTimeout: '30s' },
  allowedLateness: '30s',
  aggregates: {
    open: first('price_usd', 'ts'),
    high: max('price_usd'),
    low: min('price_usd'),
    close: last('price_usd', 'ts'),
    volume: sum('volume'),
    tick_count: count(),
  },
  sink: { type: 'postgres', table: 'crypto_ohlc' },
  generate: generateTick,
});
