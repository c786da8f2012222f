import { describe, expect, it } from 'vitest';
import { isShardflowError } from '../common/errors.ts';
import type { ActorRef } from './actor-ref.ts';
import { ActorSystem } from './actor-system.ts';
import type { Behavior } from './behavior.ts';
import { eventLog, gate, thrown, until } from './testing.ts';

describe('orderly stop', () => {
  it('drains queued messages, then stops children before parents, running postStop for each', async () => {
    const log = eventLog();
    const system = new ActorSystem({ onEvent: log.onEvent });
    const handled: Record<string, number[]> = { a: [], b: [], c: [], d: [] };
    const postStops: string[] = [];
    // a forwards to its child b, b to its child c: what a drains must still reach c.
    const relay = (name: string, next?: string) => (): Behavior<number> => ({
      preStart(ctx) {
        if (next) ctx.spawn<number>(next, relay(next, next === 'b' ? 'c' : undefined));
      },
      async receive(n, ctx) {
        await new Promise((resolve) => setImmediate(resolve));
        handled[name]!.push(n);
        if (next) (ctx.child(next) as ActorRef<number>).tell(n);
      },
      postStop() {
        postStops.push(name);
      },
    });
    const a = system.spawn<number>('a', relay('a', 'b'));
    const d = system.spawn<number>('d', relay('d'));
    for (let n = 0; n < 5; n++) {
      a.tell(n);
      d.tell(n);
    }

    await system.stop();

    expect(handled).toEqual({ a: [0, 1, 2, 3, 4], b: [0, 1, 2, 3, 4], c: [0, 1, 2, 3, 4], d: [0, 1, 2, 3, 4] });
    expect(postStops).toEqual(['d', 'c', 'b', 'a']); // the latest spawned top-level actor first
    expect(log.summary().filter((s) => s.startsWith('stopped'))).toEqual([
      'stopped:/user/d',
      'stopped:/user/a/b/c',
      'stopped:/user/a/b',
      'stopped:/user/a',
    ]);
    expect([a.status, d.status]).toEqual(['stopped', 'stopped']);
  });

  it('drops queued messages on stop({ drain: false }) but lets the message being handled finish', async () => {
    const system = new ActorSystem();
    const handled: number[] = [];
    const release = gate();
    let stoppedAfter: number[] | undefined;
    const ref = system.spawn<number>('impatient', () => ({
      async receive(n) {
        if (n === 0) await release.promise;
        handled.push(n);
      },
      postStop() {
        stoppedAfter = [...handled];
      },
    }));
    for (let n = 0; n < 5; n++) ref.tell(n);
    await until('message 0 is being handled', () => ref.mailboxSize === 4);

    const stopped = ref.stop({ drain: false });
    expect(ref.mailboxSize).toBe(0);
    release.open();
    await stopped;

    expect(handled).toEqual([0]);
    expect(stoppedAfter).toEqual([0]);
    await system.stop();
  });

  it('refuses tell, send and ask with ACTOR_STOPPED from the moment stop is called, while it still drains', async () => {
    const system = new ActorSystem();
    const handled: string[] = [];
    const ref = system.spawn<string>('closing', () => ({
      async receive(m) {
        await new Promise((resolve) => setImmediate(resolve));
        handled.push(m);
      },
    }));
    ref.tell('queued');

    const stopped = ref.stop();

    expect(ref.status).toBe('stopping');
    expect(isShardflowError(thrown(() => ref.tell('late')), 'ACTOR_STOPPED')).toBe(true);
    await expect(ref.send('late')).rejects.toMatchObject({ code: 'ACTOR_STOPPED' });
    await expect(ref.ask(() => 'late', 1000)).rejects.toMatchObject({ code: 'ACTOR_STOPPED' });
    await stopped;
    expect(handled).toEqual(['queued']);
    expect(ref.status).toBe('stopped');
    await system.stop();
  });

  it('cuts a restart backoff short when stopped with messages queued, so they are still handled', async () => {
    const system = new ActorSystem();
    const handled: number[] = [];
    const ref = system.spawn<number>(
      'backing-off',
      () => ({
        receive(n) {
          if (n === 1) throw new Error('fails once');
          handled.push(n);
        },
      }),
      { minBackoffMs: 60_000, maxBackoffMs: 60_000 },
    );
    for (let n = 1; n <= 3; n++) ref.tell(n);
    await until('the actor is waiting to restart', () => ref.mailboxSize === 2);
    const started = performance.now();

    await ref.stop();

    expect(handled).toEqual([2, 3]);
    expect(performance.now() - started).toBeLessThan(1000);
    await system.stop();
  });

  it('reports a postStop that throws as failed and still completes the stop', async () => {
    const log = eventLog();
    const system = new ActorSystem({ onEvent: log.onEvent });
    system.spawn<never>('leaky', () => ({
      postStop() {
        throw new Error('close failed');
      },
    }));

    await system.stop();

    expect(log.events.find((e) => e.type === 'failed')).toMatchObject({
      path: '/user/leaky',
      phase: 'postStop',
      error: { message: 'close failed' },
    });
    expect(log.summary().at(-1)).toBe('stopped:/user/leaky');
  });
});
