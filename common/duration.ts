// Durations in configs and job definitions: a number of milliseconds or a string such as "250ms",
// "30s", "5m", "1h", "1d". Every timing setting in the project is held in milliseconds once parsed.
import { ShardflowError } from './errors.ts';

export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;

/** Parses a duration to milliseconds; `what` names the setting in the error message. */
export function parseDuration(value: Duration, what: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
    throw new ShardflowError('DURATION_INVALID', `${what}: ${value} is not a duration; use a number of milliseconds >= 0 or a string like "30s"`);
  }
  const match = PATTERN.exec(value);
  if (!match) {
    throw new ShardflowError(
      'DURATION_INVALID',
      `${what}: "${value}" is not a duration; write a number and a unit (ms, s, m, h, d), e.g. "500ms", "30s", "5m"`,
    );
  }
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as string]!);
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0ms';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
