// Oracle of the user-activity job (seed 002): per UTC day and event type, the number of events and
// of distinct users. Event types are any UPPER_SNAKE_CASE name; a PURCHASE needs a positive amount.
import { DAY, eventTimeOf, parseJson, windowId, type Aggregates, type SeedExpectation } from './oracle.ts';

const EVENT_TYPE = /^[A-Z][A-Z0-9_]{0,63}$/;
const DEVICES = ['web', 'ios', 'android'];

export type UserEvent = { type: string; user: string; t: number };

/** The expected dead-letter reason of a raw user event, or the event. */
export function classifyUserEvent(raw: string, ingestTime: number): string | UserEvent {
  const e = parseJson(raw);
  if (e === undefined) return 'malformed-json';
  const text = (v: unknown, max: number) => v === undefined || (typeof v === 'string' && v.length <= max);
  const amountOk = e.amount === undefined || (typeof e.amount === 'number' && e.amount > 0);
  const ok =
    typeof e.user_id === 'string' && e.user_id !== '' && e.user_id.length <= 64 &&
    typeof e.event_type === 'string' && EVENT_TYPE.test(e.event_type) &&
    (e.ts === undefined || (typeof e.ts === 'string' && e.ts.length <= 64) || typeof e.ts === 'number') &&
    text(e.event_id, 64) && text(e.session_id, 64) && text(e.page, 2_000) && text(e.product_id, 64) &&
    amountOk && (e.device === undefined || DEVICES.includes(e.device as string)) &&
    (e.event_type !== 'PURCHASE' || e.amount !== undefined);
  if (!ok) return 'schema-violation';
  const t = eventTimeOf(e.ts, ingestTime);
  if (typeof t === 'string') return t;
  return { type: e.event_type as string, user: e.user_id as string, t };
}

export function userActivityOracle(raws: readonly string[], ingestTime: number): SeedExpectation {
  const deadLetters = new Map<number, string>();
  const days = new Map<string, { n: number; users: Set<string> }>();
  raws.forEach((raw, position) => {
    const e = classifyUserEvent(raw, ingestTime);
    if (typeof e === 'string') {
      deadLetters.set(position, e);
      return;
    }
    const start = e.t - (e.t % DAY);
    const id = windowId(e.type, start, start + DAY);
    const d = days.get(id) ?? { n: 0, users: new Set<string>() };
    d.n++;
    d.users.add(e.user);
    days.set(id, d);
  });
  const rows = new Map<string, Aggregates>();
  for (const [id, d] of days) rows.set(id, { event_count: d.n, unique_users: d.users.size });
  return { rows, deadLetters };
}
