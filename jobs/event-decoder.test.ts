import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { count } from '../engine/aggregates/count.ts';
import { tumbling } from '../engine/assigners/tumbling.ts';
import { defineJob } from './define-job.ts';
import { decodeEvent } from './event-decoder.ts';

const job = defineJob({
  name: 'orders',
  schema: z.object({ id: z.string(), amount: z.number(), at: z.union([z.string(), z.number()]) }),
  key: 'id',
  eventTime: 'at',
  window: tumbling('1m'),
  aggregates: { n: count() },
  limits: { maxEventBytes: 4096, maxFutureSkew: '1h' },
});

const NOW = Date.UTC(2026, 10, 24, 12);
const decode = (raw: string | Uint8Array) => decodeEvent(job, raw, NOW);

describe('decoding an event', () => {
  it('accepts a valid event with an ISO or epoch-ms time and gives its key and time', () => {
    expect(decode('{"id":"a","amount":3,"at":"2026-11-24T11:59:00Z"}')).toEqual({
      ok: true,
      key: 'a',
      eventTime: Date.UTC(2026, 10, 24, 11, 59),
      event: { id: 'a', amount: 3, at: '2026-11-24T11:59:00Z' },
    });
    expect(decode(new TextEncoder().encode(`{"id":"b","amount":1,"at":${NOW - 5}}`))).toMatchObject({ ok: true, eventTime: NOW - 5 });
  });

  it.each([
    ['malformed JSON', '{"id": "a", "amount":', 'malformed-json', /not valid UTF-8 JSON/],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 'malformed-json', /not valid UTF-8 JSON/],
    ['a wrong type', '{"id":"a","amount":"12","at":1}', 'schema-violation', /amount: .*number/],
    ['a missing field', '{"amount":1,"at":1}', 'schema-violation', /id: /],
    ['not an object', '[1,2,3]', 'schema-violation', /\(event\)/],
    ['a null event time', '{"id":"a","amount":1,"at":""}', 'missing-event-time', /no event time/],
    ['an unparseable event time', '{"id":"a","amount":1,"at":"yesterday"}', 'invalid-event-time', /neither epoch milliseconds nor an ISO-8601/],
    ['an ambiguous local time', '{"id":"a","amount":1,"at":"2026-11-24T11:00:00"}', 'invalid-event-time', /ISO-8601/],
    ['a time far in the future', '{"id":"a","amount":1,"at":"2999-01-01T00:00:00Z"}', 'event-time-out-of-range', /ahead of its ingest time/],
    ['a time before 2000', '{"id":"a","amount":1,"at":0}', 'event-time-out-of-range', /before the job's earliest accepted time/],
    ['an empty key', '{"id":"","amount":1,"at":"2026-11-24T11:00:00Z"}', 'invalid-key', /not a non-empty string/],
    ['an oversized message', JSON.stringify({ id: 'a', amount: 1, at: 1, pad: 'x'.repeat(5000) }), 'oversized', /more than the job's limit of 4096 bytes/],
    ['a key longer than 512 UTF-8 bytes', JSON.stringify({ id: 'é'.repeat(257), amount: 1, at: 1_795_000_000_000 }), 'key-too-long', /514 UTF-8 bytes is longer than the job's limit of 512/],
    ['a 3.5 KB key', JSON.stringify({ id: 'k'.repeat(3_500), amount: 1, at: 1_795_000_000_000 }), 'key-too-long', /limits.maxKeyBytes/],
    ['a key with a NUL', JSON.stringify({ id: 'Evil\u0000Brand', amount: 1, at: 1_795_000_000_000 }), 'invalid-key', /control character/],
    ['a key with CR LF', JSON.stringify({ id: 'x\r\nboom', amount: 1, at: 1_795_000_000_000 }), 'invalid-key', /control character/],
    ['a key with a lone surrogate', '{"id":"a\\ud800","amount":1,"at":1795000000000}', 'invalid-key', /invalid UTF-16/],
  ] as const)('rejects %s with a reason', (_what, raw, reason, message) => {
    const out = decode(raw);
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.reason).toBe(reason);
      expect(out.message).toMatch(message);
    }
  });

  it('turns a throwing key function into a dead-letter reason instead of an exception', () => {
    const fragile = defineJob({
      name: 'fragile',
      schema: z.object({ at: z.number() }),
      key: () => {
        throw new Error('boom');
      },
      eventTime: 'at',
      window: tumbling('1m'),
      aggregates: { n: count() },
    });
    expect(decodeEvent(fragile, `{"at":${NOW}}`, NOW)).toEqual({ ok: false, reason: 'invalid-key', message: "the job's key function threw: boom" });
  });

  it('accepts a key of exactly the limit, counted in UTF-8 bytes', () => {
    expect(decode(JSON.stringify({ id: 'é'.repeat(256), amount: 1, at: NOW }))).toMatchObject({ ok: true });
    expect(decode(JSON.stringify({ id: 'k'.repeat(512), amount: 1, at: NOW }))).toMatchObject({ ok: true });
  });

  it('refuses by default an event stamped 23 hours ahead of its ingest time (the default skew is minutes)', () => {
    const lenient = defineJob({ name: 'skew', schema: z.object({ at: z.number() }), key: () => 'k', eventTime: 'at', window: tumbling('1m'), aggregates: { n: count() } });
    expect(decodeEvent(lenient, `{"at":${NOW + 23 * 3_600_000}}`, NOW)).toMatchObject({ ok: false, reason: 'event-time-out-of-range' });
    expect(decodeEvent(lenient, `{"at":${NOW + 4 * 60_000}}`, NOW)).toMatchObject({ ok: true });
  });

  it('handles a 2 MB message without trouble', () => {
    const big = JSON.stringify({ id: 'a', amount: 1, at: NOW, pad: 'y'.repeat(2 * 1024 * 1024) });
    expect(decode(big)).toMatchObject({ ok: false, reason: 'oversized' });
  });
});
