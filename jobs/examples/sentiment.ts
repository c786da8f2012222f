// A small lexicon-based sentiment score for short customer comments in French and English, in
// [-1, 1]: (positive words - negative words) / (words with a polarity), 0 when there are none.
// Negation ("pas", "not", "jamais", "never") flips the polarity of the next polar word.

const POSITIVE = new Set([
  'bon', 'bonne', 'bien', 'excellent', 'excellente', 'rapide', 'propre', 'parfait', 'parfaite', 'super', 'agreable',
  'aimable', 'sympathique', 'merci', 'satisfait', 'satisfaite', 'top', 'efficace', 'accueillant', 'genial',
  'good', 'great', 'excellent', 'fast', 'clean', 'friendly', 'perfect', 'nice', 'helpful', 'happy', 'quick',
]);
const NEGATIVE = new Set([
  'mauvais', 'mauvaise', 'lent', 'lente', 'sale', 'cher', 'chere', 'attente', 'panne', 'nul', 'nulle', 'desagreable',
  'impoli', 'impolie', 'decu', 'decue', 'probleme', 'horrible', 'ferme', 'rupture', 'vide', 'arnaque',
  'bad', 'slow', 'dirty', 'expensive', 'rude', 'broken', 'terrible', 'awful', 'disappointed', 'closed', 'wait',
]);
const NEGATIONS = new Set(['pas', 'jamais', 'not', 'never', 'no', 'aucun', 'aucune']);

export function sentimentScore(text: string): number {
  const words = text
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .split(/[^a-z]+/);
  let pos = 0;
  let neg = 0;
  let negate = false;
  for (const w of words) {
    if (w === '') continue;
    if (NEGATIONS.has(w)) {
      negate = true;
      continue;
    }
    const polarity = POSITIVE.has(w) ? 1 : NEGATIVE.has(w) ? -1 : 0;
    if (polarity === 0) continue;
    if ((polarity > 0) !== negate) pos++;
    else neg++;
    negate = false;
  }
  return pos + neg === 0 ? 0 : (pos - neg) / (pos + neg);
}
