// Oracle of the wikimedia-edits job (seed 002's Wikimedia input): per wiki, change type and minute,
// the number of changes and the share of them made by bots.
import { eventTimeOf, mean, MINUTE, parseJson, windowId, type Aggregates, type SeedExpectation } from './oracle.ts';

const TYPES = ['edit', 'new', 'log', 'categorize', 'external'];
const WIKI = /^[a-z0-9_]{1,64}$/;

export function wikimediaEditsOracle(raws: readonly string[], ingestTime: number): SeedExpectation {
  const deadLetters = new Map<number, string>();
  const minutes = new Map<string, { n: number; bots: number }>();
  raws.forEach((raw, position) => {
    const e = parseJson(raw);
    if (e === undefined) {
      deadLetters.set(position, 'malformed-json');
      return;
    }
    const text = (v: unknown, max: number) => v === undefined || (typeof v === 'string' && v.length <= max);
    const ok = typeof e.wiki === 'string' && WIKI.test(e.wiki) && TYPES.includes(e.type as string) && typeof e.bot === 'boolean' && typeof e.ts === 'number' && text(e.id, 64) && text(e.user, 300) && text(e.title, 1_000);
    if (!ok) {
      deadLetters.set(position, 'schema-violation');
      return;
    }
    const t = eventTimeOf(e.ts, ingestTime);
    if (typeof t === 'string') {
      deadLetters.set(position, t);
      return;
    }
    const start = t - (t % MINUTE);
    const id = windowId(`${e.wiki as string}|${e.type as string}`, start, start + MINUTE);
    const m = minutes.get(id) ?? { n: 0, bots: 0 };
    m.n++;
    if (e.bot === true) m.bots++;
    minutes.set(id, m);
  });
  const rows = new Map<string, Aggregates>();
  for (const [id, m] of minutes) rows.set(id, { edits: m.n, bot_share: mean(m.bots, m.n) });
  return { rows, deadLetters };
}
