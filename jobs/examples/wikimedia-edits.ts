// Seed 002's second input: the Wikimedia recent changes, read live from EventStreams (server-sent
// events) by the job's own source, then per wiki, change type and minute: the number of changes and
// the share made by bots. The seed pushed them through Kafka with an Avro schema before PySpark
// aggregated them; here the source publishes a compact event per change (canary events, which
// Wikimedia sends to prove the stream alive, are skipped) and the schema below checks it: a change
// without a wiki or a known type is dead-lettered with what was wrong.
//
// Event time is the change's own `timestamp` (seconds, turned into ms by the source). EventStreams
// delivers changes within seconds of each other and in near order; 10 s of out-of-orderness covers
// its merge of two data centres.
import { z } from 'zod';
import { intBetween, pick, type Random } from '../../common/random.ts';
import { avg, count } from '../../engine/aggregates/index.ts';
import { tumbling } from '../../engine/assigners/tumbling.ts';
import { sseSource, type SourceRecord } from '../../sources/source-spec.ts';
import { defineJob } from '../define-job.ts';

export const CHANGE_TYPES = ['edit', 'new', 'log', 'categorize', 'external'] as const;

const Change = z.object({
  id: z.string().max(64).optional(),
  wiki: z.string({ error: 'is required: the wiki\'s database name, such as "enwiki"' }).regex(/^[a-z0-9_]{1,64}$/, 'must be a wiki database name such as "enwiki" or "commonswiki"'),
  type: z.enum(CHANGE_TYPES, { error: `must be one of ${CHANGE_TYPES.join(', ')}` }),
  bot: z.boolean({ error: 'must be true or false: whether a bot made the change' }),
  user: z.string().max(300).optional(),
  title: z.string().max(1_000).optional(),
  ts: z.number({ error: 'must be the change time in epoch milliseconds' }),
});

export type Change = z.infer<typeof Change>;

/**
 * A recentchange event of EventStreams as the job's event: its id (meta.id, a UUID), wiki, type, bot
 * flag, user, title and time; undefined for a canary event (meta.domain "canary"). Fields are passed
 * as they come: the job's schema judges them.
 */
export function changeOfRecentChange(data: SourceRecord): unknown {
  const meta = (typeof data.meta === 'object' && data.meta !== null ? data.meta : {}) as Record<string, unknown>;
  if (meta.domain === 'canary') return undefined;
  return { id: meta.id, wiki: data.wiki, type: data.type, bot: data.bot, user: data.user, title: data.title, ts: typeof data.timestamp === 'number' ? data.timestamp * 1_000 : data.timestamp };
}

export const recentChangeSource = sseSource({
  name: 'recentchange',
  url: 'https://stream.wikimedia.org/v2/stream/recentchange',
  // Wikimedia asks clients to say who they are; anonymous ones may be throttled.
  headers: { 'user-agent': 'shardflow (https://github.com/shardflow/shardflow; stream processing of recent changes)' },
  // meta.id is unique per change; the SSE id (Kafka offsets of two data centres) is the fallback.
  dedupeKey: (data, id) => {
    const meta = data.meta as { id?: unknown } | undefined;
    return typeof meta?.id === 'string' ? meta.id : id;
  },
  toEvent: changeOfRecentChange,
  idleTimeout: '60s',
});

const WIKIS = ['enwiki', 'commonswiki', 'wikidatawiki', 'dewiki', 'frwiki', 'eswiki', 'jawiki', 'ruwiki'];

/** Kinds of dirty record, each as common as the others. */
const DIRT: ((random: Random, ts: number) => string)[] = [
  () => '{"wiki": "enwiki", "type": "edit", "bot": fal',
  (_, ts) => JSON.stringify({ type: 'edit', bot: false, ts }),
  (_, ts) => JSON.stringify({ wiki: 'enwiki', type: 'revert', bot: false, ts }),
  (_, ts) => JSON.stringify({ wiki: 'frwiki', type: 'edit', bot: 'yes', ts }),
  (_, ts) => JSON.stringify({ wiki: 'En Wiki', type: 'new', bot: true, ts }),
  (_, ts) => JSON.stringify({ wiki: 'dewiki', type: 'log', bot: false, ts: new Date(ts).toISOString() }),
  // Seconds where milliseconds are due (January 1970), and a clock far ahead.
  (random, ts) => JSON.stringify({ wiki: 'enwiki', type: 'edit', bot: false, ts: pick(random, [Math.floor(ts / 1_000), 32_503_680_000_000]) }),
];

export interface ChangeGeneratorOptions {
  /** Share of dirty records, from 0 to 1. Default 0.02. */
  dirtyShare?: number;
}

/** Recent changes in the shape the source publishes: 20 per second of event time (the spacing every
 *  generator keeps), up to 5 s out of order, a third of them by bots. */
export function changeGenerator(options: ChangeGeneratorOptions = {}): (random: Random, index: number, startTime: number) => string {
  const dirtyShare = options.dirtyShare ?? 0.02;
  return (random, index, startTime) => {
    const ts = startTime + index * 50 - intBetween(random, 0, 5_000);
    if (random() < dirtyShare) return pick(random, DIRT)(random, ts);
    const type = random() < 0.7 ? 'edit' : pick(random, CHANGE_TYPES);
    const change: Change = {
      id: `${index.toString(16).padStart(8, '0')}-${Math.floor(random() * 0xffff).toString(16)}`,
      wiki: pick(random, WIKIS),
      type,
      bot: random() < 0.33,
      user: `User${intBetween(random, 1, 500)}`,
      title: `Page ${intBetween(random, 1, 10_000)}`,
      ts,
    };
    return JSON.stringify(change);
  };
}

export const wikimediaEdits = defineJob({
  name: 'wikimedia-edits',
  description: 'Wikimedia recent changes (EventStreams), per wiki, change type and minute: changes and the share made by bots',
  source: { partitions: 8 },
  sources: [recentChangeSource],
  schema: Change,
  key: ['wiki', 'type'],
  eventTime: 'ts',
  window: tumbling('1m'),
  watermark: { maxOutOfOrderness: '10s', idleTimeout: '30s' },
  allowedLateness: '30s',
  aggregates: {
    edits: count(),
    bot_share: avg((e: Change) => (e.bot ? 1 : 0)),
  },
  generate: changeGenerator(),
});
