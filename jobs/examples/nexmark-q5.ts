// Nexmark query 5, "hot items": the number of bids per auction in 10 s windows sliding by 2 s, as
// Flink's Nexmark suite runs it (HOP(dateTime, INTERVAL '2' SECOND, INTERVAL '10' SECOND)), so the
// cluster can be set beside the figures other engines publish for it. The hot item of a window is the
// auction with the most bids: a reader ranks the window's rows by `bids` (q5's final max-join is a
// query over the results, not a second window here).
//
// The generator follows the shape of Nexmark's (Beam's BidGenerator and its defaults): ids grow as the
// event stream would create people and auctions (1 person, 3 auctions and 46 bids in every 50 events);
// half the bids go to the hot auction (hotAuctionRatio 2: the first of the latest 100 auctions), the
// others uniformly over the 100 auctions in flight plus 10 not created yet; three bids in four come
// from the hot bidder (hotBiddersRatio 4), the others from the 1,000 active people; prices are
// Nexmark's, log-uniform from $1 to $1M in cents. Channel and url, which Flink's Nexmark adds to the
// bid, take the same skew: half the bids come through one of 4 hot channels, the others through one
// of 10,000. Only bids are generated, since q5 reads nothing else.
import { z } from 'zod';
import { intBetween, pick, type Random } from '../../common/random.ts';
import { count } from '../../engine/aggregates/index.ts';
import { sliding } from '../../engine/assigners/sliding.ts';
import { defineJob } from '../define-job.ts';

/** "is required: ..." when the field is missing, "must be ..." when it holds something else. */
function field(what: string) {
  return { error: (issue: { input: unknown }) => (issue.input === undefined ? `is required: ${what}` : `must be ${what}`) };
}

const ID = 'a Nexmark id, a whole number >= 0';

const Bid = z.object({
  auction: z.number(field(`the auction's id, ${ID}`)).int(`must be ${ID}`).nonnegative(`must be ${ID}`),
  bidder: z.number(field(`the bidder's person id, ${ID}`)).int(`must be ${ID}`).nonnegative(`must be ${ID}`),
  price: z.number(field('the price in cents, a whole number > 0')).int('must be a whole number of cents').positive('must be more than 0 cents'),
  channel: z.string(field('the channel the bid came through, as text')).min(1, 'must not be empty').max(64, 'must be at most 64 characters'),
  url: z.string(field('the URL the bid came from, as text')).max(512, 'must be at most 512 characters'),
  dateTime: z.number(field('the bid time in epoch milliseconds')).int('must be whole epoch milliseconds'),
  extra: z.string(field('padding text, possibly empty')).max(1_024, 'must be at most 1,024 characters'),
});

export type Bid = z.infer<typeof Bid>;

/** Nexmark's interleaving of the event stream: in every 50 events, 1 person, 3 auctions, 46 bids. */
const PERSON_PROPORTION = 1;
const AUCTION_PROPORTION = 3;
const BID_PROPORTION = 46;
const PROPORTION_DENOMINATOR = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION;
const FIRST_AUCTION_ID = 1_000;
const FIRST_PERSON_ID = 1_000;
/** Nexmark's defaults (NexmarkConfiguration). */
const HOT_AUCTION_RATIO = 2;
const HOT_BIDDERS_RATIO = 4;
const NUM_IN_FLIGHT_AUCTIONS = 100;
const NUM_ACTIVE_PEOPLE = 1_000;
/** The hot auction (bidder) is the first (second) of the latest batch of this many ids. */
const HOT_BATCH = 100;
/** Ids not created yet that a bid may still name, as events arrive slightly out of order. */
const ID_LEAD = 10;
const HOT_CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple'] as const;
const CHANNELS = 10_000;

const nextLong = (random: Random, n: number) => Math.floor(random() * n);
function letters(random: Random, n: number): string {
  let text = '';
  for (let i = 0; i < n; i++) text += String.fromCharCode(97 + nextLong(random, 26));
  return text;
}

/** The id in Nexmark's whole event stream of the bid at `index` among bids alone. */
function eventIdOfBid(index: number): number {
  return Math.floor(index / BID_PROPORTION) * PROPORTION_DENOMINATOR + PERSON_PROPORTION + AUCTION_PROPORTION + (index % BID_PROPORTION);
}

// At a bid's event id, the latest person and auction are the last ones of its epoch of 50 events.
const lastAuction = (eventId: number) => Math.floor(eventId / PROPORTION_DENOMINATOR) * AUCTION_PROPORTION + AUCTION_PROPORTION - 1;
const lastPerson = (eventId: number) => Math.floor(eventId / PROPORTION_DENOMINATOR) * PERSON_PROPORTION + PERSON_PROPORTION - 1;

function nextAuction(random: Random, eventId: number): number {
  const last = lastAuction(eventId);
  if (nextLong(random, HOT_AUCTION_RATIO) > 0) return FIRST_AUCTION_ID + Math.floor(last / HOT_BATCH) * HOT_BATCH;
  const min = Math.max(last - NUM_IN_FLIGHT_AUCTIONS, 0);
  return FIRST_AUCTION_ID + min + nextLong(random, last - min + 1 + ID_LEAD);
}

function nextBidder(random: Random, eventId: number): number {
  const last = lastPerson(eventId);
  // The second of the batch, so hot bidders and hot sellers (the first) do not collide.
  if (nextLong(random, HOT_BIDDERS_RATIO) > 0) return FIRST_PERSON_ID + Math.floor(last / HOT_BATCH) * HOT_BATCH + 1;
  const people = last + 1;
  const active = Math.min(people, NUM_ACTIVE_PEOPLE);
  return FIRST_PERSON_ID + people - active + nextLong(random, active + ID_LEAD);
}

/** Nexmark's prices: 10^(0..6) dollars, in cents. */
const nextPrice = (random: Random) => Math.round(10 ** (random() * 6) * 100);

/** Kinds of dirty record, each as common as the others. */
const DIRT: ((random: Random, dateTime: number) => string)[] = [
  () => '{"auction": 1000, "bidder": 1001, "price": 5',
  (random, dateTime) => JSON.stringify({ bidder: 1_001, price: nextPrice(random), channel: 'Google', url: 'https://www.nexmark.com/', dateTime, extra: '' }),
  (random) => JSON.stringify({ auction: 1_000, bidder: 1_001, price: nextPrice(random), channel: 'Apple', url: 'https://www.nexmark.com/', extra: '' }),
  (_, dateTime) => JSON.stringify({ auction: 1_000, bidder: 1_001, price: '12.50', channel: 'Baidu', url: 'https://www.nexmark.com/', dateTime, extra: '' }),
  (random, dateTime) => JSON.stringify({ auction: 1_000, bidder: 1_001, price: -nextPrice(random), channel: 'Google', url: 'https://www.nexmark.com/', dateTime, extra: '' }),
  (random, dateTime) => JSON.stringify({ auction: `a-${intBetween(random, 1_000, 2_000)}`, bidder: 1_001, price: 100, channel: 'Facebook', url: 'https://www.nexmark.com/', dateTime, extra: '' }),
  (random, dateTime) => JSON.stringify({ auction: 1_000, bidder: 1_001, price: 100, channel: letters(random, 200), url: 'https://www.nexmark.com/', dateTime, extra: '' }),
];

export interface BidGeneratorOptions {
  /** Share of dirty records, from 0 to 1. Default 0.005. */
  dirtyShare?: number;
}

/**
 * Raw Nexmark bids: 20 per second of event time (the spacing every generator keeps, which
 * `shardflow run` and the local cluster rely on), up to 0.5 s out of order, within the job's 1 s
 * bound; Nexmark's own generator emits in order by default, a real feed does not.
 */
export function bidGenerator(options: BidGeneratorOptions = {}): (random: Random, index: number, startTime: number) => string {
  const dirtyShare = options.dirtyShare ?? 0.005;
  return (random, index, startTime) => {
    const dateTime = startTime + index * 50 - intBetween(random, 0, 500);
    if (random() < dirtyShare) return pick(random, DIRT)(random, dateTime);
    const eventId = eventIdOfBid(index);
    const auction = nextAuction(random, eventId);
    const bidder = nextBidder(random, eventId);
    const price = nextPrice(random);
    let channel: string;
    let url: string;
    if (nextLong(random, 2) > 0) {
      const i = nextLong(random, HOT_CHANNELS.length);
      channel = HOT_CHANNELS[i]!;
      url = `https://www.nexmark.com/${channel.toLowerCase()}/item.htm?query=1`;
    } else {
      const n = nextLong(random, CHANNELS);
      channel = `channel-${n}`;
      url = `https://www.nexmark.com/${letters(random, 5)}/${letters(random, 5)}/${letters(random, 5)}/item.htm?query=1&channel_id=${n}`;
    }
    // Nexmark pads each bid to about 100 bytes of fields.
    const bid: Bid = { auction, bidder, price, channel, url, dateTime, extra: letters(random, intBetween(random, 54, 81)) };
    return JSON.stringify(bid);
  };
}

export const generateBid = bidGenerator();

export const nexmarkQ5 = defineJob({
  name: 'nexmark-q5',
  description: 'Nexmark q5 (hot items): bids per auction in 10 s windows sliding by 2 s; the top row of a window by bids is its hot item',
  source: { partitions: 16 },
  schema: Bid,
  key: 'auction',
  eventTime: 'dateTime',
  window: sliding({ size: '10s', slide: '2s' }),
  watermark: { maxOutOfOrderness: '1s', idleTimeout: '30s' },
  aggregates: {
    bids: count(),
  },
  sink: { type: 'kv' },
  generate: generateBid,
});
