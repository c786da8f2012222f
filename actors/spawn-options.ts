// Per-actor settings: defaults, one line of documentation each, and validation in one place. Bad values
// are rejected at spawn with a message that says what to change.
import { ShardflowError } from '../common/errors.ts';

export interface SpawnOptions {
  /** Most messages waiting in the mailbox (the one being handled is not counted). When it is full,
   *  `send` waits for room and `tell` throws ACTOR_MAILBOX_FULL. Default 1000. */
  mailboxCapacity?: number;
  /** ms to wait before the first restart after a failure; doubles with each further restart inside the
   *  `withinMs` window. 0 restarts at once. Default 10. */
  minBackoffMs?: number;
  /** ms, the cap of the doubling backoff. Default 1000. */
  maxBackoffMs?: number;
  /** Restarts allowed inside `withinMs`; one more failure escalates to the parent. 0 escalates on the
   *  first failure, Infinity never escalates. Default 5. */
  maxRestarts?: number;
  /** ms, the sliding window in which restarts are counted. Default 10_000. */
  withinMs?: number;
  /** Messages handled in one go before the actor yields to other actors and to I/O. Default 100. */
  throughput?: number;
}

export type ResolvedSpawnOptions = Readonly<Required<SpawnOptions>>;

export const DEFAULT_SPAWN_OPTIONS: ResolvedSpawnOptions = Object.freeze({
  mailboxCapacity: 1000,
  minBackoffMs: 10,
  maxBackoffMs: 1000,
  maxRestarts: 5,
  withinMs: 10_000,
  throughput: 100,
});

const KNOWN_KEYS = new Set(Object.keys(DEFAULT_SPAWN_OPTIONS));

/** Merges `options` over `defaults` and validates the result; `where` names the actor in messages. */
export function resolveSpawnOptions(
  where: string,
  options: SpawnOptions | undefined,
  defaults: ResolvedSpawnOptions = DEFAULT_SPAWN_OPTIONS,
): ResolvedSpawnOptions {
  if (options === undefined) return defaults;
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key)) {
      invalid(where, `unknown option "${key}"; the options are ${[...KNOWN_KEYS].join(', ')}`);
    }
  }
  const o: Required<SpawnOptions> = { ...defaults };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (o as Record<string, number>)[key] = value as number;
  }
  positiveInteger(where, 'mailboxCapacity', o.mailboxCapacity);
  positiveInteger(where, 'throughput', o.throughput);
  if (!(Number.isFinite(o.minBackoffMs) && o.minBackoffMs >= 0)) {
    invalid(where, `minBackoffMs is ${o.minBackoffMs}; use a number of milliseconds >= 0`);
  }
  if (!(Number.isFinite(o.maxBackoffMs) && o.maxBackoffMs >= o.minBackoffMs)) {
    invalid(where, `maxBackoffMs is ${o.maxBackoffMs}; use a number of milliseconds >= minBackoffMs (${o.minBackoffMs})`);
  }
  if (!(o.maxRestarts === Infinity || (Number.isInteger(o.maxRestarts) && o.maxRestarts >= 0))) {
    invalid(where, `maxRestarts is ${o.maxRestarts}; use a whole number >= 0, or Infinity to never escalate`);
  }
  if (!(Number.isFinite(o.withinMs) && o.withinMs > 0)) {
    invalid(where, `withinMs is ${o.withinMs}; use a number of milliseconds > 0`);
  }
  return Object.freeze(o);
}

function positiveInteger(where: string, key: string, value: number): void {
  if (!(Number.isInteger(value) && value >= 1)) invalid(where, `${key} is ${value}; use a whole number >= 1`);
}

function invalid(where: string, advice: string): never {
  throw new ShardflowError('ACTOR_ARGUMENT_INVALID', `spawning ${where}: ${advice}`);
}
