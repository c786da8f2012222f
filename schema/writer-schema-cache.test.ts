import { describe, expect, it } from 'vitest';
import { frame } from './wire-format.ts';
import { WriterSchemaCache } from './writer-schema-cache.ts';

const schemaOf = (id: number) => JSON.stringify({ type: 'record', name: `R${id}`, fields: [{ name: 'a', type: 'string' }] });
const event = (id: number) => frame(id, new Uint8Array([2, 0x61]));

function cache(capacity: number, known: (id: number) => boolean = () => true) {
  const asked: number[] = [];
  const c = new WriterSchemaCache(
    {
      schema: async (id) => {
        asked.push(id);
        return known(id) ? schemaOf(id) : undefined;
      },
      lastId: async () => 1_000,
    },
    capacity,
  );
  return { c, asked };
}

describe('the writer schema cache of a worker', () => {
  it('asks the registry once per id and resolves every id of a batch, JSON events ignored', async () => {
    const { c, asked } = cache(10);
    const first = await c.prepare([event(1), event(2), event(1), new TextEncoder().encode('{"json":true}')]);
    const second = await c.prepare([event(2)]);
    expect(asked).toEqual([1, 2]);
    expect([...first.keys()]).toEqual([1, 2]);
    expect(first.get(1)?.name).toBe('R1');
    expect([...second.keys()]).toEqual([2]);
  });

  it('holds at most its capacity, the least recently used leaving first, never an id of the batch at hand', async () => {
    const { c, asked } = cache(3);
    for (const id of [1, 2, 3]) await c.prepare([event(id)]);
    await c.prepare([event(1)]); // 1 used again: 2 is now the oldest
    await c.prepare([event(4)]);
    expect(c.size).toBe(3);
    expect(c.holds(2)).toBe(false);
    expect(c.holds(1)).toBe(true);
    // A batch naming more ids than the capacity still resolves all of them.
    const big = await c.prepare([5, 6, 7, 8, 9].map(event));
    for (const id of [5, 6, 7, 8, 9]) expect(big.get(id)?.name).toBe(`R${id}`);
    await c.prepare([event(1)]);
    expect(c.size).toBe(3);
    expect(asked.filter((id) => id === 1)).toHaveLength(2);
  });

  it('never remembers an id as unknown: the next batch naming it asks again, once', async () => {
    let registered = false;
    const { c, asked } = cache(10, (id) => id !== 7 || registered);
    expect((await c.prepare([event(7), event(7)])).get(7)).toBeNull();
    expect(c.holds(7)).toBe(false);
    registered = true;
    expect((await c.prepare([event(7)])).get(7)?.name).toBe('R7');
    await c.prepare([event(7)]);
    expect(asked).toEqual([7, 7]);
  });

  it('gives each batch its own map, which another batch evicting entries cannot change', async () => {
    const { c } = cache(1);
    const a = await c.prepare([event(1)]);
    await c.prepare([event(2)]);
    expect(c.holds(1)).toBe(false);
    expect(a.get(1)?.name).toBe('R1');
  });

  it('asks nothing for ids above the last one given out: a flood of made-up ids costs one read per batch', async () => {
    const { c, asked } = cache(10);
    const batch = await c.prepare(Array.from({ length: 5_000 }, (_, i) => event(2_000 + i)));
    expect(batch.size).toBe(5_000);
    expect([...batch.values()].every((t) => t === null)).toBe(true);
    expect(asked).toEqual([]);
  });

  it('lets a registry failure through instead of calling the id unknown', async () => {
    const c = new WriterSchemaCache({
      schema: async () => {
        throw new Error('no responders');
      },
      lastId: async () => 10,
    });
    await expect(c.prepare([event(1)])).rejects.toThrow('no responders');
    expect(c.holds(1)).toBe(false);
  });
});
