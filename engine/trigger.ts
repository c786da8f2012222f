// The event-time trigger: when a window fires, when it is cleaned up, and when an event is too late.
// A watermark W promises that no event with time <= W is still expected on time.
//   fires:      W >= end - 1                       (the window can receive no more on-time events)
//   cleaned up: W >= end - 1 + allowedLateness     (late updates are no longer accepted)
// Between the two, a late event still updates the window and the window fires again at once.

export function isDue(end: number, watermark: number): boolean {
  return watermark >= end - 1;
}

export function cleanupTime(end: number, allowedLateness: number): number {
  return end - 1 + allowedLateness;
}

export function isClosed(end: number, allowedLateness: number, watermark: number): boolean {
  return watermark >= end - 1 + allowedLateness;
}
