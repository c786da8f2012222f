// Seed 001's input: Open Food Facts product records as the producer publishes them (fields named as
// in the OpenFood API), their validation, and a seeded generator. Shared by the two jobs that port
// the seed's Spark queries: openfood-nutriscore (per grade) and openfood-brands (per brand).
import { z } from 'zod';
import { sliding } from '../../engine/assigners/sliding.ts';
import { intBetween, pick, type Random } from '../../common/random.ts';
import { httpPollSource, type SourceRecord } from '../../sources/source-spec.ts';

export const NUTRISCORE_GRADES = ['a', 'b', 'c', 'd', 'e'] as const;

/** Pure fat is about 3,700 kJ per 100 g: anything above 3,900 is a unit mix-up (kcal vs kJ), not food. */
export const MAX_ENERGY_KJ = 3_900;

export const Product = z.object({
  code: z.string().max(64).optional(),
  product_name: z.string({ error: 'is required: every product has a name' }).trim().min(1, 'is required: every product has a name').max(500),
  /** Comma-separated, the owner brand first ("Ferrero, Nutella"); products without a brand exist. */
  brands: z.string().max(500).optional(),
  /** Comma-separated, from the most general ("Spreads, Sweet spreads, Hazelnut spreads"). */
  categories: z.string().max(2_000).optional(),
  nutriscore_grade: z
    .string({ error: 'must be a Nutri-Score grade a, b, c, d or e (any case)' })
    .trim()
    .toLowerCase()
    .pipe(z.enum(NUTRISCORE_GRADES, { error: 'must be a Nutri-Score grade a, b, c, d or e (any case)' })),
  energy_100g: z
    .number({ error: `must be the energy in kJ per 100 g, a number from 0 to ${MAX_ENERGY_KJ}` })
    .min(0, `must be the energy in kJ per 100 g, a number from 0 to ${MAX_ENERGY_KJ}`)
    .max(MAX_ENERGY_KJ, `must be the energy in kJ per 100 g, a number from 0 to ${MAX_ENERGY_KJ}`)
    .nullish(),
  /** When the producer saw the product: ISO-8601 or epoch ms. Left to the decoder, which says what is wrong with it. */
  ts: z.union([z.string().max(64), z.number()]).optional(),
});

export type Product = z.infer<typeof Product>;

/**
 * A product of the OpenFood search API (`{ code, product_name, brands, categories, nutriscore_grade,
 * nutriments: { energy_100g }, last_modified_t }`) as the jobs' event, seen now (`ts`: the event is
 * made once, when the page is read, and checkpointed with it, so a replay carries the same time).
 */
export function productOfSearchResult(p: SourceRecord): unknown {
  const nutriments = (typeof p.nutriments === 'object' && p.nutriments !== null ? p.nutriments : {}) as Record<string, unknown>;
  const energy = nutriments.energy_100g ?? nutriments['energy-kj_100g'];
  return {
    code: p.code,
    product_name: p.product_name,
    brands: p.brands,
    categories: p.categories,
    nutriscore_grade: p.nutriscore_grade,
    energy_100g: typeof energy === 'string' && energy.trim() !== '' ? Number(energy) : energy,
    ts: Date.now(),
  };
}

/** The OpenFood search API, most recently modified products first, 100 per page, 5 pages per poll
 *  every 5 minutes; a product counts once per modification (its code at its last_modified_t). */
export function openfoodSearchSource() {
  return httpPollSource({
    name: 'openfood-search',
    url: 'https://world.openfoodfacts.org/cgi/search.pl?action=process&json=1&sort_by=last_modified_t&fields=code,product_name,brands,categories,nutriscore_grade,nutriments,last_modified_t',
    interval: '5m',
    // The API asks for a User-Agent naming the application.
    headers: { 'user-agent': 'shardflow - stream processing of Open Food Facts products' },
    records: (body) => (body as { products?: unknown } | null)?.products,
    pagination: {
      param: 'page',
      size: { param: 'page_size', size: 100 },
      maxPages: 5,
      more: (body, page) => {
        const b = body as { count?: unknown; page_size?: unknown };
        return typeof b.count === 'number' && page * (Number(b.page_size) || 100) < b.count;
      },
    },
    dedupeKey: (p) => (typeof p.code === 'string' ? `${p.code}@${String(p.last_modified_t)}` : undefined),
    toEvent: productOfSearchResult,
    timeout: '20s',
  });
}

/** The owner brand: the first of the comma-separated brands, or "(no brand)". */
export function primaryBrand(p: Product): string {
  return p.brands?.split(',')[0]?.trim() || '(no brand)';
}

/** The most general category, or "(no category)". */
export function mainCategory(p: Product): string {
  return p.categories?.split(',')[0]?.trim() || '(no category)';
}

/** name, brands, categories, grade, kJ per 100 g: a small catalogue in the spirit of Open Food Facts. */
const CATALOGUE: readonly [string, string, string, string, number][] = [
  ['Nutella', 'Ferrero, Nutella', 'Spreads, Sweet spreads, Hazelnut spreads', 'e', 2252],
  ['Kinder Bueno', 'Ferrero, Kinder', 'Snacks, Sweet snacks, Chocolate bars', 'e', 2377],
  ['Ferrero Rocher', 'Ferrero', 'Snacks, Sweet snacks, Chocolates', 'e', 2500],
  ['Prince Goût Chocolat', 'LU, Mondelez', 'Snacks, Sweet snacks, Biscuits', 'd', 1960],
  ['Petit Beurre', 'LU', 'Snacks, Sweet snacks, Biscuits', 'd', 1850],
  ['Oreo', 'Oreo, Mondelez', 'Snacks, Sweet snacks, Biscuits', 'e', 1985],
  ['Milka Alpine Milk', 'Milka, Mondelez', 'Snacks, Sweet snacks, Chocolates', 'e', 2244],
  ['Coca-Cola', 'Coca-Cola', 'Beverages, Carbonated drinks, Sodas', 'e', 180],
  ['Coca-Cola Zero', 'Coca-Cola', 'Beverages, Carbonated drinks, Sodas', 'b', 1],
  ['Evian', 'Evian, Danone', 'Beverages, Waters, Mineral waters', 'a', 0],
  ['Activia Nature', 'Danone, Activia', 'Dairies, Fermented foods, Yogurts', 'a', 295],
  ['Danette Chocolat', 'Danone', 'Dairies, Desserts, Chocolate desserts', 'c', 540],
  ['Président Camembert', 'Président, Lactalis', 'Dairies, Cheeses, Soft cheeses', 'd', 1190],
  ['Lactel Lait Demi-Écrémé', 'Lactel, Lactalis', 'Dairies, Milks, Semi-skimmed milks', 'a', 195],
  ['Barilla Spaghetti n.5', 'Barilla', 'Cereals and potatoes, Pastas, Spaghetti', 'a', 1521],
  ['Panzani Coquillettes', 'Panzani', 'Cereals and potatoes, Pastas', 'a', 1490],
  ['Quaker Oats', 'Quaker, PepsiCo', 'Cereals and potatoes, Breakfast cereals, Rolled oats', 'a', 1570],
  ['Kellogg\'s Corn Flakes', "Kellogg's", 'Cereals and potatoes, Breakfast cereals', 'c', 1611],
  ['Chocapic', 'Nestlé', 'Cereals and potatoes, Breakfast cereals', 'b', 1617],
  ['Nesquik', 'Nestlé, Nesquik', 'Beverages, Cocoa and chocolate powders', 'd', 1592],
  ['Ricoré', 'Nestlé', 'Beverages, Coffee substitutes', 'b', 1400],
  ['Lay\'s Classic', "Lay's, PepsiCo", 'Snacks, Salty snacks, Crisps', 'd', 2240],
  ['Pringles Original', 'Pringles', 'Snacks, Salty snacks, Crisps', 'e', 2163],
  ['Bonduelle Petits Pois', 'Bonduelle', 'Plant-based foods, Vegetables, Canned peas', 'a', 285],
  ['Cassegrain Haricots Verts', 'Cassegrain, Bonduelle', 'Plant-based foods, Vegetables, Green beans', 'a', 96],
  ['Heinz Tomato Ketchup', 'Heinz', 'Condiments, Sauces, Ketchup', 'd', 432],
  ['Amora Mayonnaise', 'Amora, Unilever', 'Condiments, Sauces, Mayonnaises', 'e', 2891],
  ['Lesieur Huile de Tournesol', 'Lesieur', 'Fats, Vegetable oils, Sunflower oils', 'c', 3700],
  ['Herta Le Bon Paris', 'Herta', 'Meats, Prepared meats, Hams', 'b', 460],
  ['Fleury Michon Blanc de Poulet', 'Fleury Michon', 'Meats, Poultries, Chicken breasts', 'a', 420],
  ['Harry\'s American Sandwich', "Harry's, Barilla", 'Cereals and potatoes, Breads, Sliced breads', 'b', 1152],
  ['Tropicana Orange', 'Tropicana, PepsiCo', 'Beverages, Fruit juices, Orange juices', 'c', 190],
  ['Bjorg Lait d\'Amande', 'Bjorg', 'Beverages, Plant-based milks, Almond milks', 'b', 104],
  ['Andros Compote Pomme', 'Andros', 'Plant-based foods, Fruits, Compotes', 'a', 285],
  ['Haribo Tagada', 'Haribo', 'Snacks, Sweet snacks, Gummies', 'd', 1440],
  ['Carrefour Bio Lentilles', 'Carrefour Bio, Carrefour', 'Plant-based foods, Legumes, Lentils', 'a', 1379],
];

/** Kinds of dirty record, each as common as the others. */
const DIRT: ((random: Random, ts: number) => string)[] = [
  () => '{"product_name": "Nutella", "brands": "Ferrero", "nutriscore_grade": "e", "energy_100g": 22',
  (random, ts) => JSON.stringify({ product_name: 'Mystery Snack', brands: 'Acme', nutriscore_grade: pick(random, ['f', 'unknown', 'not-applicable', '']), ts: iso(ts) }),
  (_, ts) => JSON.stringify({ product_name: 'Pain de mie', brands: 'Jacquet', energy_100g: 1100, ts: iso(ts) }),
  (_, ts) => JSON.stringify({ product_name: 'Nutella', brands: 'Ferrero', nutriscore_grade: 'e', energy_100g: '2252 kJ', ts: iso(ts) }),
  (random, ts) => JSON.stringify({ product_name: 'Beurre doux', brands: 'Président', nutriscore_grade: 'e', energy_100g: pick(random, [-12, 30_100]), ts: iso(ts) }),
  (_, ts) => JSON.stringify({ brands: 'Danone', nutriscore_grade: 'a', energy_100g: 250, ts: iso(ts) }),
  () => JSON.stringify({ product_name: 'Evian', brands: 'Evian', nutriscore_grade: 'a', energy_100g: 0, ts: '2999-01-01T00:00:00Z' }),
  (_, ts) => JSON.stringify({ product_name: 'Evian', brands: 'Evian', nutriscore_grade: 'a', energy_100g: 0, ts: new Date(ts).toLocaleString('fr-FR', { timeZone: 'UTC' }) }),
  () => JSON.stringify({ product_name: 'Oreo', brands: 'Oreo', nutriscore_grade: 'e', energy_100g: 1985 }),
];

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export interface ProductGeneratorOptions {
  /** Share of dirty records, from 0 to 1. Default 0.02. */
  dirtyShare?: number;
}

/**
 * Raw product records: 20 per second of event time (the spacing every generator keeps, which
 * `shardflow run` and the local cluster rely on), up to 20 s out of order as the API's batches of 100
 * arrive, within the 30 s bound of both jobs. Grades come in either case, sometimes padded; one
 * product in ten has no energy value and a few have no brand or category, as in Open Food Facts.
 */
export function productGenerator(options: ProductGeneratorOptions = {}): (random: Random, index: number, startTime: number) => string {
  const dirtyShare = options.dirtyShare ?? 0.02;
  return (random, index, startTime) => {
    const ts = startTime + index * 50 - intBetween(random, 0, 20_000);
    if (random() < dirtyShare) return pick(random, DIRT)(random, ts);
    const [name, brands, categories, grade, energy] = pick(random, CATALOGUE);
    const style = random();
    const product: Record<string, unknown> = {
      code: String(3_000_000_000_000 + intBetween(random, 0, 999_999_999)),
      product_name: name,
      nutriscore_grade: style < 0.2 ? grade.toUpperCase() : style < 0.25 ? ` ${grade} ` : grade,
      ts: iso(ts),
    };
    if (random() >= 0.03) product.brands = brands;
    if (random() >= 0.05) product.categories = categories;
    if (random() >= 0.1) product.energy_100g = Math.round(energy * (0.95 + 0.1 * random()));
    return JSON.stringify(product);
  };
}

export const generateProduct = productGenerator();

/** How both OpenFood jobs read time and window it, as the seed's two queries do: event time `ts`,
 *  5-minute windows every minute, 30 s out of order, 1 min allowed lateness. */
export const openfoodWindowing = {
  schema: Product,
  eventTime: 'ts',
  window: sliding({ size: '5m', slide: '1m' }),
  watermark: { maxOutOfOrderness: '30s', idleTimeout: '30s' },
  allowedLateness: '1m',
  generate: generateProduct,
} as const;
