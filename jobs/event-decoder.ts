// Turns a raw event (the bytes a producer published) into a validated event with its key and event
// time, or a rejection with a reason. Never throws: every failure, including a throwing key or time
// function of the job, becomes a dead-letter reason.
import { describeError } from '../common/errors.ts';
import type { Job } from './define-job.ts';

export type DeadLetterReason =
  | 'oversized'
  | 'malformed-json'
  | 'schema-violation'
  | 'missing-event-time'
  | 'invalid-event-time'
  | 'event-time-out-of-range'
  | 'invalid-key';

export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = [
  'oversized',
  'malformed-json',
  'schema-violation',
  'missing-event-time',
  'invalid-event-time',
  'event-time-out-of-range',
  'invalid-key',
];

export interface DecodedEvent<E> {
  readonly ok: true;
  readonly key: string;
  readonly eventTime: number;
  readonly event: E;
}

export interface Rejection {
  readonly ok: false;
  readonly reason: DeadLetterReason;
  readonly message: string;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one raw event. `ingestTime` (epoch ms) is when the event entered the log; the future-skew
 * limit is measured from it, so a replay judges each event exactly as the first run did.
 */
export function decodeEvent<E>(job: Job<E>, raw: Uint8Array | string, ingestTime: number): DecodedEvent<E> | Rejection {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.byteLength;
  if (size > job.maxEventBytes) {
    return reject('oversized', `event is ${size} bytes, more than the job's limit of ${job.maxEventBytes} bytes (limits.maxEventBytes)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof raw === 'string' ? raw : decoder.decode(raw));
  } catch (err) {
    return reject('malformed-json', `not valid UTF-8 JSON: ${describeError(err)}`);
  }
  const checked = job.schema.safeParse(parsed);
  if (!checked.success) {
    const issues = checked.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(event)'}: ${i.message}`);
    return reject('schema-violation', `does not match the job's schema: ${issues.join('; ')}`);
  }
  const event = checked.data;

  let time: unknown;
  try {
    time = job.timeOf(event);
  } catch (err) {
    return reject('invalid-event-time', `the job's eventTime function threw: ${describeError(err)}`);
  }
  if (time === undefined || time === null || time === '') return reject('missing-event-time', 'event has no event time');
  const eventTime = toEpochMs(time);
  if (eventTime === undefined) {
    return reject('invalid-event-time', `event time ${JSON.stringify(time)} is neither epoch milliseconds nor an ISO-8601 date-time`);
  }
  if (eventTime < job.minEventTime) {
    return reject('event-time-out-of-range', `event time ${new Date(eventTime).toISOString()} is before the job's earliest accepted time ${new Date(job.minEventTime).toISOString()} (limits.minEventTime)`);
  }
  if (eventTime > ingestTime + job.maxFutureSkew) {
    return reject(
      'event-time-out-of-range',
      `event time ${isoOrRaw(eventTime)} is more than ${job.maxFutureSkew}ms ahead of its ingest time ${isoOrRaw(ingestTime)} (limits.maxFutureSkew)`,
    );
  }

  let key: unknown;
  try {
    key = job.keyOf(event);
  } catch (err) {
    return reject('invalid-key', `the job's key function threw: ${describeError(err)}`);
  }
  if ((typeof key !== 'string' && typeof key !== 'number') || key === '' || (typeof key === 'number' && !Number.isFinite(key))) {
    return reject('invalid-key', `key ${JSON.stringify(key) ?? String(key)} is not a non-empty string or a number`);
  }
  return { ok: true, key: String(key), eventTime, event };
}

function toEpochMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.getTime() : undefined;
  if (typeof value === 'string') {
    // Only full ISO-8601 dates (with a time zone when a time is given), not whatever Date.parse guesses.
    if (!/^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/.test(value)) return undefined;
    const ms = Date.parse(value.replace(' ', 'T'));
    return Number.isFinite(ms) ? ms : undefined;
  }
  return undefined;
}

function isoOrRaw(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

function reject(reason: DeadLetterReason, message: string): Rejection {
  return { ok: false, reason, message };
}
