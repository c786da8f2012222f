// Helpers for the unit tests next to this file; not part of the package's public surface.
import type { ActorEvent } from './events.ts';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A latch a test opens to let a blocked `receive` continue. */
export function gate(): { readonly promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Waits until `condition` holds, failing the test with `what` after `timeoutMs`. */
export async function until(what: string, condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(1);
  }
}

/** The value `fn` throws (undefined if it returns). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Records lifecycle events, each with the time it arrived (performance.now, ms). */
export function eventLog(): {
  readonly events: (ActorEvent & { at: number })[];
  readonly onEvent: (event: ActorEvent) => void;
  /** `type:path` of every event, in order, for compact assertions. */
  summary(): string[];
} {
  const events: (ActorEvent & { at: number })[] = [];
  return {
    events,
    onEvent: (event) => events.push({ ...event, at: performance.now() }),
    summary: () => events.map((e) => `${e.type}:${e.path}`),
  };
}
