// Seed 001, second query: Open Food Facts products -> per brand, in sliding windows of 5 minutes
// every minute: number of products, mean energy per 100 g and how many products of each Nutri-Score
// grade, for PostgreSQL (table openfood_brands). Why this is a job of its own rather than a map in
// the rows of openfood-nutriscore: see the header of openfood-nutriscore.ts.
//
// The key is the owner brand, the first of the comma-separated `brands` ("Ferrero, Nutella" counts
// for Ferrero), as written; products without a brand count under "(no brand)" instead of being
// rejected, as a Spark `groupBy` keeps its null group.
import { avg, count, countBy } from '../../engine/aggregates/index.ts';
import { defineJob } from '../define-job.ts';
import { openfoodSearchSource, openfoodWindowing, primaryBrand, type Product } from './openfood-products.ts';

export const openfoodBrands = defineJob({
  name: 'openfood-brands',
  description: 'Open Food Facts products per brand, 5-minute windows every minute: count, mean energy, products per Nutri-Score grade',
  source: { partitions: 16 },
  sources: [openfoodSearchSource()],
  key: primaryBrand,
  ...openfoodWindowing,
  aggregates: {
    products: count(),
    avg_energy_100g: avg<Product>('energy_100g'),
    grades: countBy('nutriscore_grade'),
  },
  sink: { type: 'postgres', table: 'openfood_brands' },
});
