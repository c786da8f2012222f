// The registry kept in NATS KV, against a real nats-server: registrations from several connections at
// once each get a consistent answer (consecutive versions, ids never given twice), one schema has one
// id across subjects, and compatibility levels apply per subject over the global one.
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestNats, type TestNats } from '../test/cluster-harness.ts';
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
});
