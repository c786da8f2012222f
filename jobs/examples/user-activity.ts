// Seed 002: user activity events -> the daily KPIs of `fct_daily_user_metrics`: per day and event
// type, event_count and unique_users. The seed computed them in two steps (PySpark streaming with a
// watermark into MongoDB, then a dbt batch into BigQuery); here one job keyed by event_type with
// event-time tumbling windows of one day (UTC) gives the same rows as they complete: the window
// start is the activity_date. The seed's events are Avro records checked against a schema registry:
// the job reads the Confluent wire format (USER_ACTIVITY_AVRO_SCHEMA below, registered in the
// cluster's registry) as well as JSON, and the zod schema below checks both; a record that breaks it
// is dead-lettered with what was wrong.
//
// Lateness, as the seed's watermark had it: mobile apps send buffered events minutes late, so the
// watermark trails the latest event by 10 minutes; a day's row is first written 10 minutes after
// midnight and then updated by any event of that day arriving within the next hour. Later ones go
// to the late side output with the reason, never silently dropped.
//
// Event types are open, like a growing tracking plan: any UPPER_SNAKE_CASE name is accepted (SEARCH
// appears in the generator without a code change); a lower-case or free-text type is rejected. Only
// as many partitions as types hold data; unique_users keeps each day's user ids per type, which a
// day of activity for millions of users would need a sketch for.
import { z } from 'zod';
import { intBetween, pick, type Random } from '../../common/random.ts';
import { count, distinctCount } from '../../engine/aggregates/index.ts';
import { tumbling } from '../../engine/assigners/tumbling.ts';
import { defineJob } from '../define-job.ts';

const EVENT_TYPE_RULE = 'must be an UPPER_SNAKE_CASE event type such as CLICK, VIEW, PURCHASE or ADD_TO_CART';

const UserEvent = z
  .object({
    event_id: z.string().max(64).optional(),
    user_id: z.string({ error: 'is required: a string user id such as "u-0042"' }).min(1, 'is required: a string user id such as "u-0042"').max(64),
    event_type: z.string({ error: EVENT_TYPE_RULE }).regex(/^[A-Z][A-Z0-9_]{0,63}$/, EVENT_TYPE_RULE),
    /** ISO-8601 or epoch ms; left to the decoder, which says what is wrong with it. */
    ts: z.union([z.string().max(64), z.number()]).optional(),
    session_id: z.string().max(64).optional(),
    page: z.string().max(2_000).optional(),
    product_id: z.string().max(64).optional(),
    amount: z.number().positive().optional(),
    device: z.enum(['web', 'ios', 'android']).optional(),
  })
  .refine((e) => e.event_type !== 'PURCHASE' || e.amount !== undefined, { path: ['amount'], message: 'is required for a PURCHASE: its positive amount' });

export type UserEvent = z.infer<typeof UserEvent>;

/** Event type and its share of the traffic. */
const TYPES: readonly [string, number][] = [
  ['VIEW', 0.4],
  ['CLICK', 0.3],
  ['ADD_TO_CART', 0.1],
  ['PURCHASE', 0.04],
  ['LOGIN', 0.07],
  ['LOGOUT', 0.06],
  ['SEARCH', 0.03],
];
const USERS = 3_000;
const PAGES = ['/', '/search', '/category/shoes', '/category/books', '/cart', '/checkout', '/account'];

function pickType(random: Random): string {
  let r = random();
  for (const [type, share] of TYPES) {
    if (r < share) return type;
    r -= share;
  }
  return 'VIEW';
}

/** A few users do most of the activity, as on any site. */
function pickUser(random: Random): string {
  return `u-${String(Math.floor(USERS * random() ** 2)).padStart(4, '0')}`;
}

/** Kinds of dirty record, each as common as the others. */
const DIRT: ((random: Random, ts: number) => string)[] = [
  () => '{"user_id": "u-0001", "event_type": "CLICK", "ts": "2026-',
  (random, ts) => JSON.stringify({ user_id: pickUser(random), event_type: pick(random, ['click', 'Page View', '']), ts: new Date(ts).toISOString() }),
  (_, ts) => JSON.stringify({ event_type: 'VIEW', page: '/', ts: new Date(ts).toISOString() }),
  (random, ts) => JSON.stringify({ user_id: intBetween(random, 1, USERS), event_type: 'LOGIN', ts: new Date(ts).toISOString() }),
  (random, ts) => JSON.stringify({ user_id: pickUser(random), event_type: 'PURCHASE', product_id: 'p-17', ts: new Date(ts).toISOString() }),
  (random) => JSON.stringify({ user_id: pickUser(random), event_type: 'VIEW', ts: pick(random, ['yesterday', '2026-02-30T25:00:00Z', '12/03/2026 10:00']) }),
  // Epoch seconds where milliseconds are due: a date in January 1970.
  (random, ts) => JSON.stringify({ user_id: pickUser(random), event_type: 'CLICK', ts: Math.floor(ts / 1_000) }),
  (random) => JSON.stringify({ user_id: pickUser(random), event_type: 'VIEW', ts: '2999-12-31T23:59:59Z' }),
];

export interface UserEventGeneratorOptions {
  /** Share of dirty records, from 0 to 1. Default 0.02. */
  dirtyShare?: number;
}

/**
 * Raw user events: 20 per second of event time (the spacing every generator keeps, which
 * `shardflow run` and the local cluster rely on), up to 3 minutes late as mobile apps flush their
 * buffers, within the job's 10-minute bound.
 */
export function userEventGenerator(options: UserEventGeneratorOptions = {}): (random: Random, index: number, startTime: number) => string {
  const dirtyShare = options.dirtyShare ?? 0.02;
  return (random, index, startTime) => {
    const ts = startTime + index * 50 - (random() < 0.2 ? intBetween(random, 0, 180_000) : intBetween(random, 0, 2_000));
    if (random() < dirtyShare) return pick(random, DIRT)(random, ts);
    const type = pickType(random);
    const user = pickUser(random);
    const event: UserEvent = {
      event_id: `e-${index.toString(36)}-${Math.floor(random() * 1e9).toString(36)}`,
      user_id: user,
      event_type: type,
      ts: new Date(ts).toISOString(),
      session_id: `s-${user.slice(2)}-${Math.floor(ts / 1_800_000)}`,
      device: pick(random, ['web', 'web', 'ios', 'android'] as const),
    };
    if (type === 'VIEW' || type === 'CLICK') event.page = pick(random, PAGES);
    if (type === 'ADD_TO_CART' || type === 'PURCHASE') event.product_id = `p-${intBetween(random, 1, 500)}`;
    if (type === 'PURCHASE') event.amount = intBetween(random, 199, 25_000) / 100;
    return JSON.stringify(event);
  };
}

export const generateUserEvent = userEventGenerator();

/**
 * The Avro schema of the seed's user activity topic (value subject `user-activity-value`): what its
 * Kafka producers write. Events may arrive in it (the Confluent wire format, decoded with the schema
 * their id names in the registry) or as JSON; both are then checked by the zod schema above.
 */
export const USER_ACTIVITY_AVRO_SCHEMA = {
  type: 'record',
  name: 'UserActivity',
  namespace: 'com.shardflow.useractivity',
  fields: [
    { name: 'event_id', type: ['null', 'string'], default: null },
    { name: 'user_id', type: 'string' },
    { name: 'event_type', type: 'string' },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'session_id', type: ['null', 'string'], default: null },
    { name: 'page', type: ['null', 'string'], default: null },
    { name: 'product_id', type: ['null', 'string'], default: null },
    { name: 'amount', type: ['null', 'double'], default: null },
    { name: 'device', type: ['null', 'string'], default: null },
  ],
} as const;

export const userActivity = defineJob({
  name: 'user-activity',
  description: 'Per day (UTC) and event type: event_count and unique_users, updated by events up to an hour late',
  source: { partitions: 8 },
  schema: UserEvent,
  // Avro as the seed's producers write it; JSON still accepted, so producers move over one at a time
  // (and the generator, `shardflow run` and plain JSON clients keep working).
  format: 'avro',
  avro: { subject: 'user-activity-value', acceptJson: true, schema: USER_ACTIVITY_AVRO_SCHEMA },
  key: 'event_type',
  eventTime: 'ts',
  window: tumbling('1d'),
  watermark: { maxOutOfOrderness: '10m', idleTimeout: '30s' },
  allowedLateness: '1h',
  aggregates: {
    event_count: count(),
    unique_users: distinctCount('user_id'),
  },
  sink: { type: 'kv' },
  generate: generateUserEvent,
});
