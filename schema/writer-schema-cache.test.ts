import { describe, expect, it } from 'vitest';
import { frame } from './wire-format.ts';
import { UNKNOWN_SCHEMA_TTL_MS, WriterSchemaCache } from './writer-schema-cache.ts';

const schemaOf = (id: number) => JSON.stringify({ type: 'record', name: `R${id}`, fields: [{ name: 'a', type: 'string' }] });
const event = (id: number) => frame(id, new Uint8Array([2, 0x61]));

function cache(capacity: number, known: (id: number) => boolean = () => true) {
  const asked: number[] = [];
  let now = 0;
  const c = new WriterSchemaCache(
    async (id) => {
      asked.push(id);
      return known(id) ? schemaOf(id) : undefined;
    },
    capacity,
    () => now,
  );
  return { c, asked, advance: (ms: number) => (now += ms) };
}

describe('the writer schema cache of a worker', () => {
  it('asks the registry once per id and resolves every id of a batch, JSON events ignored', async () => {
    const { c, asked } = cache(10);
    await c.prepare([event(1), event(2), event(1), new TextEncoder().encode('{"json":true}')]);
    await c.prepare([event(2)]);
    expect(asked).toEqual([1, 2]);
    expect(c.lookup(1)?.name).toBe('R1');
    expect(c.lookup(3)).toBeUndefined();
  });

  it('holds at most its capacity, the least recently used leaving first, never an id of the batch at hand', async () => {
    const { c, asked } = cache(3);
    for (const id of [1, 2, 3]) await c.prepare([event(id)]);
    await c.prepare([event(1)]); // 1 used again: 2 is now the oldest
    await c.prepare([event(4)]);
    expect(c.size).toBe(3);
    expect(c.lookup(2)).toBeUndefined();
    expect(c.lookup(1)).toBeDefined();
    // A batch naming more ids than the capacity still resolves all of them.
    await c.prepare([5, 6, 7, 8, 9].map(event));
    for (const id of [5, 6, 7, 8, 9]) expect(c.lookup(id)).toBeDefined();
    await c.prepare([event(1)]);
    expect(c.size).toBe(3);
    expect(asked.filter((id) => id === 1)).toHaveLength(2);
  });

  it('remembers an unknown id as unknown for a few seconds only, then asks again', async () => {
    let registered = false;
    const { c, asked, advance } = cache(10, (id) => id !== 7 || registered);
    await c.prepare([event(7)]);
    expect(c.lookup(7)).toBeNull();
    registered = true;
    await c.prepare([event(7)]);
    expect(c.lookup(7)).toBeNull();
    advance(UNKNOWN_SCHEMA_TTL_MS);
    await c.prepare([event(7)]);
    expect(c.lookup(7)?.name).toBe('R7');
    expect(asked).toEqual([7, 7]);
  });

  it('lets a registry failure through instead of calling the id unknown', async () => {
    const c = new WriterSchemaCache(async () => {
      throw new Error('no responders');
    });
    await expect(c.prepare([event(1)])).rejects.toThrow('no responders');
    expect(c.lookup(1)).toBeUndefined();
  });
});
