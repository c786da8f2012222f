// Bounded out-of-orderness (Flink's BoundedOutOfOrdernessWatermarks): after seeing event time T, an
// input promises that every event still to come has a time >= T - bound, so its watermark is
// T - bound - 1. An event with time >= (max seen) - bound is therefore never late.

export function boundedWatermark(maxEventTime: number, maxOutOfOrderness: number): number {
  return maxEventTime === -Infinity ? -Infinity : maxEventTime - maxOutOfOrderness - 1;
}
