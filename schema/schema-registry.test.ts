// The registry kept in NATS KV, against a real nats-server: registrations from several connections at
// once each get a consistent answer (consecutive versions, ids never given twice), one schema has one
// id across subjects, and compatibility levels apply per subject over the global one.
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/logger.ts';
import { startTestNats, type TestNats } from '../test/cluster-harness.ts';
import { startRegistryServer } from './registry-http.ts';
import { parseSchemaText, SchemaRegistry } from './schema-registry.ts';

let nats: TestNats | undefined;
afterAll(async () => {
  await nats?.close();
});

/** Version n of a record: n optional fields with defaults, each version backward compatible with the last. */
const version = (n: number, name = 'Reading') =>
  parseSchemaText(JSON.stringify({ type: 'record', name, fields: [{ name: 'id', type: 'string' }, ...Array.from({ length: n }, (_, i) => ({ name: `f${i}`, type: ['null', 'long'], default: null }))] }));

describe('the schema registry in NATS KV', () => {
  it('gives concurrent registrations consecutive versions and distinct ids, and one id per schema', async () => {
    nats = await startTestNats();
    const connections = await Promise.all([0, 1, 2].map(() => connect({ servers: nats!.url })));
    try {
      const registries = await Promise.all(connections.map((nc) => SchemaRegistry.open(nc, { create: true, replicas: 1 })));
      // 12 schemas, each registered from three processes at once, in varying order.
      const results = await Promise.all(Array.from({ length: 36 }, (_, i) => registries[i % 3]!.register('readings-value', version(Math.floor(i / 3)))));
      const byText = new Map<string, number>();
      for (const r of results) {
        expect(byText.get(r.schema) ?? r.id, 'one schema, one id').toBe(r.id);
        byText.set(r.schema, r.id);
      }
      expect(new Set(byText.values()).size).toBe(12);
      expect(results.filter((r) => r.created)).toHaveLength(12);
      const versions = await registries[0]!.versions('readings-value');
      expect(versions).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      // The same schema under another subject keeps its id; a new schema gets an id never given before.
      const again = await registries[1]!.register('archive-value', version(3));
      expect(again.id).toBe(byText.get(version(3).text));
      const fresh = await registries[2]!.register('archive-value', version(40));
      expect(Math.min(...byText.values(), again.id)).toBeGreaterThan(0);
      expect([...byText.values()]).not.toContain(fresh.id);
      expect(await registries[0]!.schemaById(fresh.id)).toBe(version(40).text);
    } finally {
      await Promise.all(connections.map((nc) => nc.close()));
    }
  }, 60_000);

  it('applies a subject\'s own compatibility level over the global one, and refuses what breaks it', async () => {
    const registry = await SchemaRegistry.open(nats!.nc, { create: true, replicas: 1 });
    const v1 = parseSchemaText('{"type":"record","name":"T","fields":[{"name":"a","type":"string"}]}');
    const dropped = parseSchemaText('{"type":"record","name":"T","fields":[]}');
    const required = parseSchemaText('{"type":"record","name":"T","fields":[{"name":"a","type":"string"},{"name":"b","type":"int"}]}');
    await registry.register('t-value', v1);
    expect((await registry.compatibility('t-value')).level).toBe('BACKWARD');
    // BACKWARD: dropping a field is fine (the new reader ignores it), a field without a default is not.
    expect(await registry.check('t-value', dropped)).toEqual([]);
    await expect(registry.register('t-value', required)).rejects.toMatchObject({ code: 'SCHEMA_INCOMPATIBLE' });
    await registry.setCompatibility('FORWARD', 't-value');
    expect(await registry.compatibility('t-value')).toEqual({ level: 'FORWARD', own: true });
    expect((await registry.register('t-value', required)).version).toBe(2);
    await registry.setCompatibility('NONE');
    expect((await registry.compatibility('other-value')).level).toBe('NONE');
    await expect(registry.setCompatibility('SIDEWAYS')).rejects.toMatchObject({ code: 'SCHEMA_INVALID' });
    expect(() => parseSchemaText('{"type":"record","name":"T","fields":[{"name":"a","type":"strnig"}]}')).toThrow(/not a valid Avro schema/);
  });

  it('answers the REST API in Confluent\'s shape, with its error codes, and keeps writes behind the token', async () => {
    const registry = await SchemaRegistry.open(nats!.nc, { create: true, replicas: 1 });
    const token = 'rest-test-token-0123456789';
    const server = await startRegistryServer(registry, { host: '127.0.0.1', port: 0, token, log: createLogger('cli', 'silent') });
    try {
      const call = async (method: string, path: string, body?: unknown, auth?: string) => {
        const res = await fetch(server.url + path, { method, headers: auth ? { authorization: auth } : {}, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
        return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as Record<string, unknown> };
      };
      const schema = '{"type":"record","name":"Click","fields":[{"name":"url","type":"string"}]}';
      expect((await call('POST', '/subjects/clicks-value/versions', { schema })).body).toMatchObject({ error_code: 40101 });
      expect((await call('POST', '/subjects/clicks-value/versions', { schema }, `Basic ${Buffer.from(`u:wrong`).toString('base64')}`)).status).toBe(401);
      const created = await call('POST', '/subjects/clicks-value/versions', { schema }, `Bearer ${token}`);
      expect(created).toMatchObject({ status: 200, type: 'application/vnd.schemaregistry.v1+json', body: { id: expect.any(Number) as unknown } });
      expect((await call('POST', '/subjects/clicks-value', { schema })).body).toMatchObject({ subject: 'clicks-value', version: 1, id: created.body.id });
      expect((await call('GET', '/subjects/clicks-value/versions')).body).toEqual([1]);
      expect((await call('GET', `/schemas/ids/${created.body.id as number}`)).body).toEqual({ schema });
      expect((await call('GET', '/subjects/clicks-value/versions/1/schema')).body).toEqual(JSON.parse(schema));
      expect((await call('GET', '/schemas/types')).body).toEqual(['AVRO']);
      const errors = await Promise.all([
        call('GET', '/subjects/clicks-value/versions/9'),
        call('GET', '/schemas/ids/99999'),
        call('POST', '/subjects/clicks-value', { schema: '"string"' }),
        call('POST', '/subjects/clicks-value/versions', { schema: '{"type":"nope"}' }, `Bearer ${token}`),
        call('PUT', '/config/clicks-value', { compatibility: 'SIDEWAYS' }, `Bearer ${token}`),
        call('GET', '/subjects/clicks-value/versions/zero'),
        call('POST', '/subjects/clicks-value/versions', { schema: 'x'.repeat(2 * 1024 * 1024) }, `Bearer ${token}`),
        call('GET', '/nowhere'),
      ]);
      expect(errors.map((e) => [e.status, e.body.error_code])).toEqual([
        [404, 40402],
        [404, 40403],
        [404, 40403],
        [422, 42201],
        [422, 42203],
        [422, 42202],
        [413, 41301],
        [404, 404],
      ]);
      expect((await call('PUT', '/config/clicks-value', { compatibility: 'FULL' }, `Basic ${Buffer.from(`any:${token}`).toString('base64')}`)).body).toEqual({ compatibility: 'FULL' });
      expect((await call('GET', '/config/clicks-value')).body).toEqual({ compatibilityLevel: 'FULL' });
      const evolved = '{"type":"record","name":"Click","fields":[{"name":"url","type":"string"},{"name":"ms","type":"long"}]}';
      expect((await call('POST', '/compatibility/subjects/clicks-value/versions/latest', { schema: evolved })).body).toEqual({ is_compatible: false });
      expect((await call('POST', '/subjects/clicks-value/versions', { schema: evolved }, `Bearer ${token}`)).body).toMatchObject({ error_code: 409 });
    } finally {
      await server.close();
    }
  });
});
