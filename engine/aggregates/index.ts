export { count } from './count.ts';
export { sum } from './sum.ts';
export { avg } from './avg.ts';
export { min, max } from './min-max.ts';
export { distinctCount } from './distinct-count.ts';
export { percentile, median } from './percentile.ts';
export { topK, type TopKEntry } from './top-k.ts';
export { first, last, type TimedValue } from './first-last.ts';
export { countBy } from './count-by.ts';
