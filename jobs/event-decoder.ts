// Turns a raw event (the bytes a producer published) into a validated event with its key and event
// time, or a rejection with a reason. Never throws: every failure, including a throwing key or time
// function of the job, becomes a dead-letter reason.
import { describeError } from '../common/errors.ts';
import type { Job } from './define-job.ts';

/** Why the decoder refused an event. */
export type DecodeReason =
  | 'oversized'
  | 'malformed-json'
  /** An Avro job's event names a schema id the registry does not hold. */
  | 'unknown-schema-id'
  /** An Avro job's event is not the Confluent wire format, or its bytes do not decode with the
   *  schema its id names. */
  | 'malformed-avro'
  | 'schema-violation'
  | 'missing-event-time'
  | 'invalid-event-time'
  | 'event-time-out-of-range'
  | 'invalid-key'
  | 'key-too-long';

/** Every reason an event (or a result row) can be dead-lettered with; the README's table lists them. */
export type DeadLetterReason =
  | DecodeReason
  /** A message claimed to hold a batch of events but its body is not one. */
  | 'malformed-batch'
  /** The partition's window state is at one of its limits (keys, open windows, bytes). */
  | 'state-limit'
  /** The event's key belongs to another partition than the one it was published to. */
  | 'wrong-partition'
  /** One of the job's aggregate functions threw on the event. */
  | 'aggregate-failed'
  /** The sink refused a result row for something in the row itself (too long, a character it cannot
   *  store); the row is dead-lettered instead of blocking the partition. */
  | 'sink-rejected';

export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = [
  'oversized',
  'malformed-json',
  'malformed-batch',
  'unknown-schema-id',
  'malformed-avro',
  'schema-violation',
  'missing-event-time',
  'invalid-event-time',
  'event-time-out-of-range',
  'invalid-key',
  'key-too-long',
  'state-limit',
  'wrong-partition',
  'aggregate-failed',
  'sink-rejected',
];

export interface DecodedEvent<E> {
  readonly ok: true;
  readonly key: string;
  readonly eventTime: number;
  readonly event: E;
}

export interface Rejection {
  readonly ok: false;
  readonly reason: DecodeReason;
  readonly message: string;
}

/** Turns the bytes of one event into the value the job's schema checks, or a rejection. JSON unless
 *  the job reads Avro (schema/avro-payload.ts gives that decoder, with the schemas it needs). */
export type PayloadDecoder = (raw: Uint8Array | string) => { readonly ok: true; readonly value: unknown } | Rejection;

const decoder = new TextDecoder('utf-8', { fatal: true });

export const jsonPayload: PayloadDecoder = (raw) => {
  try {
    return { ok: true, value: JSON.parse(typeof raw === 'string' ? raw : decoder.decode(raw)) as unknown };
  } catch (err) {
    return reject('malformed-json', `not valid UTF-8 JSON: ${describeError(err)}`);
  }
};
const encoder = new TextEncoder();
/** Keys become parts of KV keys, SQL primary keys and file names: no control characters (NUL
 *  included), no lone surrogates (not valid UTF-8). */
// eslint-disable-next-line no-control-regex
const BAD_KEY_CHARS = /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Decodes one raw event. `ingestTime` (epoch ms) is when the event entered the log; the future-skew
 * limit is measured from it, so a replay judges each event exactly as the first run did.
 */
export function decodeEvent<E>(job: Job<E>, raw: Uint8Array | string, ingestTime: number, payload: PayloadDecoder = jsonPayload): DecodedEvent<E> | Rejection {
  const limits = job.limits;
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.byteLength;
  if (size > limits.maxEventBytes) {
    return reject('oversized', `event is ${size} bytes, more than the job's limit of ${limits.maxEventBytes} bytes (limits.maxEventBytes)`);
  }
  const parsed = payload(raw);
  if (!parsed.ok) return parsed;
  const checked = job.schema.safeParse(parsed.value);
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
  if (eventTime < limits.minEventTime) {
    return reject('event-time-out-of-range', `event time ${isoOrRaw(eventTime)} is before the job's earliest accepted time ${isoOrRaw(limits.minEventTime)} (limits.minEventTime)`);
  }
  if (eventTime > ingestTime + limits.maxFutureSkew) {
    return reject(
      'event-time-out-of-range',
      `event time ${isoOrRaw(eventTime)} is more than ${limits.maxFutureSkew}ms ahead of its ingest time ${isoOrRaw(ingestTime)} (limits.maxFutureSkew)`,
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
  const text = String(key);
  if (text.length * 3 > limits.maxKeyBytes) {
    // Only long keys pay for the exact count (a UTF-16 unit is at most 3 UTF-8 bytes).
    const bytes = encoder.encode(text).byteLength;
    if (bytes > limits.maxKeyBytes) return reject('key-too-long', `key of ${bytes} UTF-8 bytes is longer than the job's limit of ${limits.maxKeyBytes} (limits.maxKeyBytes): "${text.slice(0, 40)}…"`);
  }
  if (BAD_KEY_CHARS.test(text)) return reject('invalid-key', `key ${JSON.stringify(text.slice(0, 80))} contains a control character or invalid UTF-16; keys must be printable text`);
  return { ok: true, key: text, eventTime, event };
}

/**
 * The key of a raw event, or undefined when it has none (not JSON, not the job's schema, a throwing or
 * empty key). For producers choosing a partition: the event's time is not judged here, so a producer
 * whose clock differs from the workers' still sends every event to its key's partition, where the
 * worker decides.
 */
export function keyOfRaw<E>(job: Job<E>, raw: Uint8Array | string, payload: PayloadDecoder = jsonPayload): string | undefined {
  const parsed = payload(raw);
  if (!parsed.ok) return undefined;
  const checked = job.schema.safeParse(parsed.value);
  if (!checked.success) return undefined;
  try {
    const key = job.keyOf(checked.data);
    return (typeof key === 'string' && key !== '') || (typeof key === 'number' && Number.isFinite(key)) ? String(key) : undefined;
  } catch {
    return undefined;
  }
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

function reject(reason: DecodeReason, message: string): Rejection {
  return { ok: false, reason, message };
}
