// Oracle of the support-tickets job (seed 004): every 30 s window of tickets (one key, "all"): the
// total, tallies per hour, day, type, team and priority, the SLA mean and median and the mean
// priority score. The business tables are written out again here, not imported from the job.
import { eventTimeOf, mean, parseJson, windowId, type Aggregates, type SeedExpectation } from './oracle.ts';

const SIZE = 30_000;
const SLA_HOURS: Readonly<Record<string, number>> = { low: 72, medium: 24, high: 8, urgent: 4 };
const PRIORITY_SCORE: Readonly<Record<string, number>> = { low: 1, medium: 2, high: 3, urgent: 4 };
const TEAM: Readonly<Record<string, string>> = {
  incident: 'Team Tech 1',
  bug: 'Team Tech 2',
  request: 'Customer Care',
  question: 'Customer Care',
  billing: 'Billing Team',
  security: 'Security Ops Center',
};

export type Ticket = { t: number; type: string; priority: string };

/** The expected dead-letter reason of a raw ticket, or the ticket. */
export function classifyTicket(raw: string, ingestTime: number): string | Ticket {
  const e = parseJson(raw);
  if (e === undefined) return 'malformed-json';
  const type = typeof e.type === 'string' ? e.type.trim().toLowerCase() : '';
  const priority = typeof e.priority === 'string' ? e.priority.trim().toLowerCase() : '';
  const ok =
    typeof e.ticket_id === 'string' && e.ticket_id !== '' && e.ticket_id.length <= 64 &&
    (e.client_id === undefined || (Number.isInteger(e.client_id) && (e.client_id as number) >= 0)) &&
    (e.created_at === undefined || (typeof e.created_at === 'string' && e.created_at.length <= 64) || typeof e.created_at === 'number') &&
    (e.request === undefined || (typeof e.request === 'string' && e.request.length <= 5_000)) &&
    type !== '' && type.length <= 64 && Object.hasOwn(SLA_HOURS, priority);
  if (!ok) return 'schema-violation';
  const t = eventTimeOf(e.created_at, ingestTime);
  if (typeof t === 'string') return t;
  return { t, type, priority };
}

function tally(values: readonly (string | number)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = (s.length - 1) / 2;
  return (s[Math.floor(mid)]! + s[Math.ceil(mid)]!) / 2;
}

export function supportTicketsOracle(raws: readonly string[], ingestTime: number): SeedExpectation {
  const deadLetters = new Map<number, string>();
  const windows = new Map<number, Ticket[]>();
  raws.forEach((raw, position) => {
    const ticket = classifyTicket(raw, ingestTime);
    if (typeof ticket === 'string') {
      deadLetters.set(position, ticket);
      return;
    }
    const start = ticket.t - (ticket.t % SIZE);
    const list = windows.get(start);
    if (list) list.push(ticket);
    else windows.set(start, [ticket]);
  });
  const rows = new Map<string, Aggregates>();
  for (const [start, tickets] of windows) {
    const slas = tickets.map((t) => SLA_HOURS[t.priority]!);
    rows.set(windowId('all', start, start + SIZE), {
      total_tickets: tickets.length,
      tickets_per_hour: tally(tickets.map((t) => new Date(t.t).getUTCHours())),
      tickets_per_day: tally(tickets.map((t) => new Date(t.t).toISOString().slice(0, 10))),
      tickets_per_type: tally(tickets.map((t) => t.type)),
      tickets_per_team: tally(tickets.map((t) => TEAM[t.type] ?? 'Triage')),
      tickets_per_priority: tally(tickets.map((t) => t.priority)),
      sla_mean: mean(slas.reduce((a, b) => a + b, 0), slas.length),
      sla_median: median(slas),
      priority_score_mean: mean(tickets.reduce((a, t) => a + PRIORITY_SCORE[t.priority]!, 0), tickets.length),
    });
  }
  return { rows, deadLetters };
}
