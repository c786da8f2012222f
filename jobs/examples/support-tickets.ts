// Seed 004: support tickets -> every 30 seconds, one JSON document of metrics: total, tickets per
// hour, per day, per type, per team, SLA mean and median, mean priority score. The Spark version ran
// 30 s micro-batches (processing time) and wrote batch_NNNNN.json; here the batches are event-time
// tumbling windows of 30 s on created_at, so a replay after a crash rebuilds the same documents, and
// the files sink writes one file per window. The seed's enrichment steps (support team mapped from
// the ticket type, SLA from the priority, priority score) are the schema's transform, so every
// aggregate reads the enriched ticket.
//
// The metrics are global, so every ticket has the same key ("all") and a single partition: more
// partitions would stay empty. At help-desk rates (tens of tickets per second) one partition is far
// from a limit; a sharded version would need a second stage merging per-partition partial windows.
import { z } from 'zod';
import { intBetween, pick, type Random } from '../../common/random.ts';
import { avg, count, countBy, median } from '../../engine/aggregates/index.ts';
import { tumbling } from '../../engine/assigners/tumbling.ts';
import { defineJob } from '../define-job.ts';

export const PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Resolution target in hours per priority: the seed's "calcul des SLA". */
export const SLA_HOURS: Readonly<Record<Priority, number>> = { urgent: 4, high: 8, medium: 24, low: 72 };
export const PRIORITY_SCORE: Readonly<Record<Priority, number>> = { low: 1, medium: 2, high: 3, urgent: 4 };

/** The seed's mapping of ticket types to support teams; a type nobody mapped yet goes to triage. */
export const TEAM_BY_TYPE: Readonly<Record<string, string>> = {
  incident: 'Team Tech 1',
  bug: 'Team Tech 2',
  request: 'Customer Care',
  question: 'Customer Care',
  billing: 'Billing Team',
  security: 'Security Ops Center',
};
export const TRIAGE_TEAM = 'Triage';

const PRIORITY_RULE = `must be one of ${PRIORITIES.join(', ')} (any case)`;

const Ticket = z
  .object({
    ticket_id: z.string({ error: 'is required: the ticket id as a string' }).min(1, 'is required: the ticket id as a string').max(64),
    client_id: z.number().int().nonnegative().optional(),
    /** ISO-8601 or epoch ms; left to the decoder, which says what is wrong with it. */
    created_at: z.union([z.string().max(64), z.number()]).optional(),
    request: z.string().max(5_000).optional(),
    type: z.string({ error: 'is required: the ticket type, e.g. incident or billing' }).trim().toLowerCase().min(1, 'is required: the ticket type, e.g. incident or billing').max(64),
    priority: z.string({ error: PRIORITY_RULE }).trim().toLowerCase().pipe(z.enum(PRIORITIES, { error: PRIORITY_RULE })),
  })
  .transform((t) => ({
    ...t,
    support_team: TEAM_BY_TYPE[t.type] ?? TRIAGE_TEAM,
    sla_hours: SLA_HOURS[t.priority],
    priority_score: PRIORITY_SCORE[t.priority],
  }));

export type Ticket = z.infer<typeof Ticket>;

/** created_at in epoch ms; only called on tickets the decoder accepted, whose time is valid. */
function createdAt(t: Ticket): number {
  return typeof t.created_at === 'number' ? t.created_at : Date.parse(String(t.created_at).replace(' ', 'T'));
}

const TYPES: readonly [string, number][] = [
  ['question', 0.3],
  ['request', 0.25],
  ['incident', 0.2],
  ['bug', 0.12],
  ['billing', 0.08],
  ['security', 0.03],
  ['onboarding', 0.02],
];
const PRIORITY_SHARES: readonly [Priority, number][] = [
  ['low', 0.35],
  ['medium', 0.4],
  ['high', 0.18],
  ['urgent', 0.07],
];
const REQUESTS = ['Cannot log in', 'Invoice is wrong', 'App crashes on start', 'How do I export my data?', 'Suspicious login attempt', 'Please add a user'];

function weighted<T>(random: Random, items: readonly [T, number][]): T {
  let r = random();
  for (const [item, share] of items) {
    if (r < share) return item;
    r -= share;
  }
  return items[0]![0];
}

/** Kinds of dirty record, each as common as the others. */
const DIRT: ((random: Random, ts: number) => string)[] = [
  () => '{"ticket_id": "TCK-1", "type": "incident", "priority": "hi',
  (random, ts) => JSON.stringify({ ticket_id: 'TCK-X', type: 'incident', priority: pick(random, ['critical', 'P1', '']), created_at: new Date(ts).toISOString() }),
  (_, ts) => JSON.stringify({ type: 'billing', priority: 'low', created_at: new Date(ts).toISOString() }),
  (random, ts) => JSON.stringify({ ticket_id: intBetween(random, 1, 99_999), type: 'question', priority: 'low', created_at: new Date(ts).toISOString() }),
  (_, ts) => JSON.stringify({ ticket_id: 'TCK-Y', priority: 'medium', created_at: new Date(ts).toISOString() }),
  () => JSON.stringify({ ticket_id: 'TCK-Z', type: 'bug', priority: 'high', created_at: '2026-13-01T10:00:00Z' }),
  (_, ts) => JSON.stringify({ ticket_id: 'TCK-S', type: 'bug', priority: 'high', created_at: Math.floor(ts / 1_000) }),
  () => JSON.stringify({ ticket_id: 'TCK-F', type: 'request', priority: 'low', created_at: '2999-01-01T00:00:00Z' }),
  () => JSON.stringify({ ticket_id: 'TCK-N', type: 'request', priority: 'low' }),
];

export interface TicketGeneratorOptions {
  /** Share of dirty records, from 0 to 1. Default 0.02. */
  dirtyShare?: number;
}

/**
 * Raw tickets as the seed's Faker producer makes them: 20 per second of event time (the spacing every
 * generator keeps, which `shardflow run` and the local cluster rely on), up to 4 s out of order,
 * within the job's 5 s bound. Priorities come in any case now and then.
 */
export function ticketGenerator(options: TicketGeneratorOptions = {}): (random: Random, index: number, startTime: number) => string {
  const dirtyShare = options.dirtyShare ?? 0.02;
  return (random, index, startTime) => {
    const ts = startTime + index * 50 - intBetween(random, 0, 4_000);
    if (random() < dirtyShare) return pick(random, DIRT)(random, ts);
    const priority = weighted(random, PRIORITY_SHARES);
    return JSON.stringify({
      ticket_id: `TCK-${String(index).padStart(7, '0')}`,
      client_id: intBetween(random, 1, 5_000),
      created_at: new Date(ts).toISOString(),
      request: pick(random, REQUESTS),
      type: weighted(random, TYPES),
      priority: random() < 0.05 ? priority.toUpperCase() : priority,
    });
  };
}

export const generateTicket = ticketGenerator();

export const supportTickets = defineJob({
  name: 'support-tickets',
  description: 'Every 30 s window of tickets: total, per hour, day, type and team, SLA mean and median, mean priority score',
  source: { partitions: 1 },
  schema: Ticket,
  key: () => 'all',
  eventTime: 'created_at',
  window: tumbling('30s'),
  watermark: { maxOutOfOrderness: '5s', idleTimeout: '30s' },
  allowedLateness: '30s',
  aggregates: {
    total_tickets: count(),
    tickets_per_hour: countBy((t: Ticket) => new Date(createdAt(t)).getUTCHours()),
    tickets_per_day: countBy((t: Ticket) => new Date(createdAt(t)).toISOString().slice(0, 10)),
    tickets_per_type: countBy('type'),
    tickets_per_team: countBy('support_team'),
    tickets_per_priority: countBy('priority'),
    sla_mean: avg('sla_hours'),
    sla_median: median('sla_hours'),
    priority_score_mean: avg('priority_score'),
  },
  sink: { type: 'files' },
  generate: generateTicket,
});
