// Oracle of the station-sentiment job (seed 000): per station and service, per minute, the feedback
// count, mean rating, mean sentiment, share of negative comments and the three most frequent comments.
import { eventTimeOf, mean, MINUTE, parseJson, topEntries, windowId, type Aggregates, type SeedExpectation } from './oracle.ts';

/**
 * The sentiment of each comment the generator writes, worked out by hand from the lexicon's rules
 * ((positive - negative) / polar words; a negation flips the next polar word) rather than by calling
 * the scorer under test.
 */
const SENTIMENT: Readonly<Record<string, number>> = {
  '': 0,
  'Service rapide et personnel aimable': 1, // rapide, aimable
  'Station propre, merci': 1, // propre, merci
  'Attente trop longue a la pompe': -1, // attente
  'Prix trop cher et boutique sale': -1, // cher, sale
  'Lavage parfait, voiture tres propre': 1, // parfait, propre
  'Bouteille de gaz en rupture, decu': -1, // rupture, decu
  'Pas mal, rien a signaler': 0, // "pas" negates, but no polar word follows
  'Pas propre du tout': -1, // propre, negated
  'Excellent accueil': 1, // excellent
  'Machine en panne depuis une semaine': -1, // panne
};

export type Feedback = { key: string; t: number; rating: number; comment: string };

/** The expected dead-letter reason of a raw feedback line, or the feedback. */
export function classifyFeedback(raw: string, ingestTime: number): string | Feedback {
  const e = parseJson(raw);
  if (e === undefined) return 'malformed-json';
  const { station_id, service, rating, comment = '', ts } = e;
  const ok =
    typeof station_id === 'string' && station_id !== '' && station_id.length <= 64 &&
    typeof service === 'string' && service !== '' && service.length <= 64 &&
    Number.isInteger(rating) && (rating as number) >= 1 && (rating as number) <= 5 &&
    typeof comment === 'string' && comment.length <= 2_000 &&
    ((typeof ts === 'string' && ts.length <= 64) || typeof ts === 'number');
  if (!ok) return 'schema-violation';
  const t = eventTimeOf(ts, ingestTime);
  if (typeof t === 'string') return t;
  return { key: `${station_id}|${service}`, t, rating: rating as number, comment };
}

export function stationSentimentOracle(raws: readonly string[], ingestTime: number): SeedExpectation {
  const deadLetters = new Map<number, string>();
  const windows = new Map<string, { n: number; ratings: number; sentiment: number; negative: number; comments: Map<string, number> }>();
  raws.forEach((raw, position) => {
    const f = classifyFeedback(raw, ingestTime);
    if (typeof f === 'string') {
      deadLetters.set(position, f);
      return;
    }
    const score = SENTIMENT[f.comment];
    if (score === undefined) throw new Error(`the station-sentiment oracle has no sentiment for the comment "${f.comment}"; add it to SENTIMENT`);
    const start = f.t - (f.t % MINUTE);
    const id = windowId(f.key, start, start + MINUTE);
    const w = windows.get(id) ?? { n: 0, ratings: 0, sentiment: 0, negative: 0, comments: new Map() };
    w.n++;
    w.ratings += f.rating;
    w.sentiment += score;
    if (score < 0) w.negative++;
    w.comments.set(f.comment, (w.comments.get(f.comment) ?? 0) + 1);
    windows.set(id, w);
  });
  const rows = new Map<string, Aggregates>();
  for (const [id, w] of windows) {
    rows.set(id, {
      feedback: w.n,
      avg_rating: mean(w.ratings, w.n),
      avg_sentiment: mean(w.sentiment, w.n),
      negative_share: mean(w.negative, w.n),
      top_comments: topEntries(w.comments, 3),
    });
  }
  return { rows, deadLetters };
}
