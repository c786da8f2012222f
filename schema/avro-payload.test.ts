import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { decodeEvent } from '../jobs/event-decoder.ts';
import { USER_ACTIVITY_AVRO_SCHEMA, userActivity } from '../jobs/examples/user-activity.ts';
import { checkAvroBounds, MAX_ZERO_WIDTH_ITEMS, needsBoundsCheck } from './avro-bounds.ts';
import { avroPayload } from './avro-payload.ts';
import { parseAvroSchema } from './compatibility.ts';
import { jsonToAvroRecord } from './json-to-avro.ts';
import { frame, schemaIdOf } from './wire-format.ts';

const type = parseAvroSchema(USER_ACTIVITY_AVRO_SCHEMA);
const ID = 7;
const strict = avroPayload({ acceptJson: false }, (id) => (id === ID ? type : id === 8 ? null : undefined));
const lenient = avroPayload({ acceptJson: true }, (id) => (id === ID ? type : undefined));
const NOW = Date.parse('2026-03-01T12:00:00Z');
const record = { event_id: null, user_id: 'u-0042', event_type: 'CLICK', ts: NOW - 1_000, session_id: null, page: '/cart', product_id: null, amount: null, device: 'ios' };

describe('the Avro payload decoder', () => {
  it('decodes the Confluent wire format into the event the job checks, null fields left out', () => {
    const decoded = decodeEvent(userActivity, frame(ID, type.toBuffer(record)), NOW, strict);
    expect(decoded).toEqual({ ok: true, key: 'CLICK', eventTime: NOW - 1_000, event: { user_id: 'u-0042', event_type: 'CLICK', ts: NOW - 1_000, page: '/cart', device: 'ios' } });
  });

  it('reads the schema id big-endian after the magic byte', () => {
    expect(schemaIdOf(frame(0x01020304, new Uint8Array([2])))).toBe(0x01020304);
    expect(schemaIdOf(new Uint8Array([0, 0, 0]))).toBeUndefined();
    expect(schemaIdOf(new Uint8Array([1, 0, 0, 0, 7]))).toBeUndefined();
  });

  it('dead-letters an id the registry does not hold as unknown-schema-id', () => {
    for (const id of [8, 9]) expect(decodeEvent(userActivity, frame(id, type.toBuffer(record)), NOW, strict)).toMatchObject({ ok: false, reason: 'unknown-schema-id' });
  });

  it('dead-letters bytes that do not decode, are cut short or run on as malformed-avro', () => {
    const body = type.toBuffer(record);
    const cases = [body.subarray(0, body.length - 3), Buffer.concat([body, Buffer.from([1, 2])]), Buffer.from([0x80, 0x80, 0x80]), Buffer.alloc(0)];
    for (const b of cases) expect(decodeEvent(userActivity, frame(ID, b), NOW, strict)).toMatchObject({ ok: false, reason: 'malformed-avro' });
    expect(decodeEvent(userActivity, new Uint8Array([0, 0, 0]), NOW, strict)).toMatchObject({ ok: false, reason: 'malformed-avro' });
  });

  it('takes JSON only when the job accepts it, and judges it as a JSON job does', () => {
    const json = JSON.stringify({ user_id: 'u-1', event_type: 'VIEW', ts: NOW });
    expect(decodeEvent(userActivity, json, NOW, strict)).toMatchObject({ ok: false, reason: 'malformed-avro' });
    expect(decodeEvent(userActivity, json, NOW, lenient)).toMatchObject({ ok: true, key: 'VIEW' });
    expect(decodeEvent(userActivity, '{"user_id":', NOW, lenient)).toMatchObject({ ok: false, reason: 'malformed-json' });
  });

  it('checks a decoded record with the job schema like any event', () => {
    const lower = frame(ID, type.toBuffer({ ...record, event_type: 'click' }));
    expect(decodeEvent(userActivity, lower, NOW, strict)).toMatchObject({ ok: false, reason: 'schema-violation' });
  });

  it('refuses in bounded time a record whose array claims billions of items', () => {
    const list = parseAvroSchema({ type: 'record', name: 'L', fields: [{ name: 'xs', type: { type: 'array', items: 'null' } }] });
    const ints = parseAvroSchema({ type: 'record', name: 'I', fields: [{ name: 'xs', type: { type: 'array', items: 'int' } }] });
    const huge = Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f, 0]); // zig-zag 2^31 - 1 items, then the end
    const began = performance.now();
    expect(checkAvroBounds(list, huge)).toMatch(/takes no bytes/);
    expect(checkAvroBounds(ints, huge)).toMatch(/claims 2147483647 items/);
    expect(performance.now() - began).toBeLessThan(100);
    expect(checkAvroBounds(list, Buffer.from([6, 0]))).toBeUndefined(); // three nulls
    expect(MAX_ZERO_WIDTH_ITEMS).toBeLessThan(1_000_000);
    const decodeHuge = avroPayload({ acceptJson: false }, () => ints);
    expect(decodeHuge(frame(1, huge))).toMatchObject({ ok: false, reason: 'malformed-avro' });
  });

  it('guards only schemas that hold an array or a map, recursive ones included', () => {
    expect(needsBoundsCheck(type)).toBe(false);
    const tree = parseAvroSchema({ type: 'record', name: 'Node', fields: [{ name: 'next', type: ['null', 'Node'] }, { name: 'tags', type: { type: 'array', items: 'string' } }] });
    const list = parseAvroSchema({ type: 'record', name: 'Link', fields: [{ name: 'next', type: ['null', 'Link'] }] });
    expect(needsBoundsCheck(tree)).toBe(true);
    expect(needsBoundsCheck(list)).toBe(false);
    // Unguarded, a record cut short or running on is still refused.
    expect(strict(frame(ID, Buffer.from([0, 2])))).toMatchObject({ ok: false, reason: 'malformed-avro' });
  });

  it('agrees with avsc on every valid record of random schemas it can generate', () => {
    const schemas = [USER_ACTIVITY_AVRO_SCHEMA, { type: 'record', name: 'N', fields: [{ name: 'm', type: { type: 'map', values: ['null', { type: 'array', items: 'double' }] } }, { name: 'f', type: { type: 'fixed', name: 'F', size: 3 } }, { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } }, { name: 'b', type: 'bytes' }, { name: 'ok', type: 'boolean' }, { name: 'x', type: 'float' }] }];
    for (const s of schemas) {
      const t = avro.Type.forSchema(s as avro.Schema);
      for (let i = 0; i < 200; i++) expect(checkAvroBounds(t, t.toBuffer(t.random()))).toBeUndefined();
    }
  });

  it('lets no map key named __proto__ give a decoded value a prototype with fields', () => {
    const withMap = parseAvroSchema({ type: 'record', name: 'M', fields: [{ name: 'tags', type: { type: 'map', values: { type: 'map', values: 'string' } } }] });
    const bytes = Buffer.concat([Buffer.from([2, 18]), Buffer.from('__proto__'), Buffer.from([2, 2]), Buffer.from('x'), Buffer.from([2]), Buffer.from('y'), Buffer.from([0, 0])]);
    const decoded = avroPayload({ acceptJson: false }, () => withMap)(frame(1, bytes));
    expect(decoded.ok).toBe(true);
    const tags = (decoded as { value: { tags: Record<string, unknown> } }).value.tags;
    expect(Object.getPrototypeOf(tags)).toBe(Object.prototype);
    expect((tags as { x?: unknown }).x).toBeUndefined();
  });

  it('turns a JSON event into a record of the schema, ISO times into timestamp-millis', () => {
    const json = { user_id: 'u-1', event_type: 'VIEW', ts: '2026-03-01T12:00:00Z', page: '/' };
    expect(jsonToAvroRecord(type, USER_ACTIVITY_AVRO_SCHEMA, json)).toMatchObject({ user_id: 'u-1', ts: NOW, page: '/', amount: null });
    expect(jsonToAvroRecord(type, USER_ACTIVITY_AVRO_SCHEMA, { user_id: 42, event_type: 'VIEW', ts: NOW })).toBeUndefined();
  });
});
