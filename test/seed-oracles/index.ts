// The oracle of each shipped seed job, by job name (spelled out here: the oracles import no job).
import { cryptoPricesOracle } from './crypto-prices.ts';
import { openfoodBrandsOracle, openfoodNutriscoreOracle } from './openfood.ts';
import type { SeedOracle } from './oracle.ts';
import { stationSentimentOracle } from './station-sentiment.ts';
import { supportTicketsOracle } from './support-tickets.ts';
import { userActivityOracle } from './user-activity.ts';
import { wikimediaEditsOracle } from './wikimedia-edits.ts';

export * from './oracle.ts';

export const SEED_ORACLES: Readonly<Record<string, SeedOracle>> = {
  'station-sentiment': stationSentimentOracle,
  'openfood-nutriscore': openfoodNutriscoreOracle,
  'openfood-brands': openfoodBrandsOracle,
  'user-activity': userActivityOracle,
  'crypto-prices': cryptoPricesOracle,
  'support-tickets': supportTicketsOracle,
  'wikimedia-edits': wikimediaEditsOracle,
};
