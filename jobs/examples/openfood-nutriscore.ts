// Seed 001, first query: Open Food Facts products -> per Nutri-Score grade, in sliding windows of
// 5 minutes every minute: number of products, mean energy per 100 g and the most frequent categories,
// for PostgreSQL (table openfood_nutriscore: one row per grade and window, as the seed's
// `groupBy("nutriscore_grade").count()` table with the window added).
//
// Why two jobs: the seed's dashboard shows counts per grade and per brand. A Spark user writes that
// as two streaming queries over the same topic, `groupBy(window(ts, "5 minutes", "1 minute"), grade)`
// and the same by brand, each writing its own table. A shardflow job has one key, so it becomes two
// jobs, this one and openfood-brands, each with a table whose rows are keyed like the Spark ones. The
// alternative, a per-brand count map inside the grade rows, would bury the brand counts in JSON
// split by grade. The cost: each job has its own ingest subject, so a producer publishes a product
// to both (the jobs share the schema and the generator, see openfood-products.ts).
//
// Only five grades exist, so at most five of the 8 partitions hold data; the volume of the Open
// Food Facts feed (batches of 100 products) is small enough for that.
import { avg, count, topK } from '../../engine/aggregates/index.ts';
import { defineJob } from '../define-job.ts';
import { mainCategory, openfoodSearchSource, openfoodWindowing, type Product } from './openfood-products.ts';

export const openfoodNutriscore = defineJob({
  name: 'openfood-nutriscore',
  description: 'Open Food Facts products per Nutri-Score grade, 5-minute windows every minute: count, mean energy, top categories',
  source: { partitions: 8 },
  sources: [openfoodSearchSource()],
  key: 'nutriscore_grade',
  ...openfoodWindowing,
  aggregates: {
    products: count(),
    avg_energy_100g: avg<Product>('energy_100g'),
    top_categories: topK(mainCategory, 3),
  },
  sink: { type: 'postgres', table: 'openfood_nutriscore' },
});
