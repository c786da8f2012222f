import { describe, expect, it } from 'vitest';
import { seededRandom, type Random } from '../common/random.ts';
import { ActorSystem } from './actor-system.ts';
import { gate } from './testing.ts';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** No wait, a few microtask hops, or a macrotask: enough for a non-serializing runtime to interleave. */
async function randomDelay(random: Random): Promise<void> {
  const r = random();
  if (r < 0.5) return;
  if (r < 0.9) {
    for (let hops = Math.floor(r * 10); hops > 0; hops--) await Promise.resolve();
    return;
  }
  await new Promise((resolve) => setImmediate(resolve));
}

describe('message ordering', () => {
  it('handles 10,000 messages in the order they were sent, one at a time, while receive awaits random delays', async () => {
    const random = seededRandom(42);
    const handled: number[] = [];
    let active = 0;
    let maxActive = 0;
    const system = new ActorSystem();
    const ref = system.spawn<number>(
      'ordered',
      () => ({
        async receive(n) {
          active++;
          maxActive = Math.max(maxActive, active);
          await randomDelay(random);
          handled.push(n);
          active--;
        },
      }),
      { mailboxCapacity: 64 },
    );

    for (let i = 0; i < 10_000; i++) await ref.send(i);
    await ref.whenDrained();

    expect(handled).toEqual(range(10_000));
    expect(maxActive).toBe(1);
    await system.stop();
  });

  it("keeps each producer's order when several producers send to one actor concurrently", async () => {
    const handled: string[] = [];
    const system = new ActorSystem();
    const ref = system.spawn<string>(
      'merge',
      () => ({
        async receive(m) {
          await Promise.resolve();
          handled.push(m);
        },
      }),
      { mailboxCapacity: 5 },
    );
    const produce = async (name: string): Promise<void> => {
      for (let i = 0; i < 500; i++) await ref.send(`${name}${i}`);
    };

    await Promise.all([produce('a'), produce('b'), produce('c')]);
    await ref.whenDrained();

    expect(handled).toHaveLength(1500);
    for (const name of ['a', 'b', 'c']) {
      expect(handled.filter((m) => m.startsWith(name))).toEqual(range(500).map((i) => `${name}${i}`));
    }
    await system.stop();
  });

  it('holds messages sent before an async preStart finishes until it has finished', async () => {
    const started = gate();
    const log: string[] = [];
    const system = new ActorSystem();
    const ref = system.spawn<string>('slow-start', () => ({
      async preStart() {
        await started.promise;
        log.push('preStart done');
      },
      receive(m) {
        log.push(m);
      },
    }));

    ref.tell('first');
    ref.tell('second');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(log).toEqual([]);
    started.open();
    await ref.whenDrained();

    expect(log).toEqual(['preStart done', 'first', 'second']);
    await system.stop();
  });
});
