import { describe, expect, it } from 'vitest';
import { isShardflowError } from '../common/errors.ts';
import { ActorSystem } from './actor-system.ts';
import { gate, sleep, thrown, until } from './testing.ts';

/** An actor that records what it handles and blocks on message 0 until `release` is opened. */
function blockedConsumer(capacity: number) {
  const system = new ActorSystem();
  const handled: number[] = [];
  const release = gate();
  let blocked = false;
  const ref = system.spawn<number>(
    'consumer',
    () => ({
      async receive(n) {
        if (n === 0) {
          blocked = true;
          await release.promise;
        }
        handled.push(n);
      },
    }),
    { mailboxCapacity: capacity },
  );
  return { system, ref, handled, release, isBlocked: () => blocked };
}

describe('backpressure', () => {
  it('never lets a producer awaiting send get more than the capacity ahead of a slow consumer', async () => {
    const system = new ActorSystem();
    const handled: number[] = [];
    const ref = system.spawn<number>(
      'slow',
      () => ({
        async receive(n) {
          await new Promise((resolve) => setImmediate(resolve));
          handled.push(n);
        },
      }),
      { mailboxCapacity: 10 },
    );

    let maxQueued = 0;
    let maxAhead = 0;
    for (let i = 0; i < 300; i++) {
      await ref.send(i);
      maxQueued = Math.max(maxQueued, ref.mailboxSize);
      maxAhead = Math.max(maxAhead, i + 1 - handled.length);
    }
    await ref.whenDrained();

    expect(maxQueued).toBe(10); // reached the bound, never beyond it
    expect(maxAhead).toBeLessThanOrEqual(11); // 10 queued + the one being handled
    expect(handled).toEqual(Array.from({ length: 300 }, (_, i) => i));
    await system.stop();
  });

  it('throws ACTOR_MAILBOX_FULL from tell on a full mailbox without queueing the message', async () => {
    const { system, ref, handled, release, isBlocked } = blockedConsumer(10);
    ref.tell(0);
    await until('message 0 is being handled', isBlocked);
    for (let i = 1; i <= 10; i++) ref.tell(i);
    expect(ref.mailboxSize).toBe(10);

    const error = thrown(() => ref.tell(11));

    expect(isShardflowError(error, 'ACTOR_MAILBOX_FULL')).toBe(true);
    expect(ref.mailboxSize).toBe(10);
    release.open();
    await ref.whenDrained();
    expect(handled).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await system.stop();
  });

  it('makes send wait while the mailbox is full and accepts the message, in order, once there is room', async () => {
    const { system, ref, handled, release, isBlocked } = blockedConsumer(3);
    ref.tell(0);
    await until('message 0 is being handled', isBlocked);
    for (let i = 1; i <= 3; i++) await ref.send(i);
    const accepted: number[] = [];
    const waiting = [4, 5].map((n) => ref.send(n).then(() => accepted.push(n)));

    await sleep(5);
    expect(accepted).toEqual([]);
    expect(ref.mailboxSize).toBe(3);
    release.open();
    await Promise.all(waiting);
    await ref.whenDrained();

    expect(accepted).toEqual([4, 5]);
    expect(handled).toEqual([0, 1, 2, 3, 4, 5]);
    await system.stop();
  });

  it('reports the queue length in mailboxSize and resolves whenDrained once every queued message is handled', async () => {
    const { system, ref, handled, release, isBlocked } = blockedConsumer(100);
    expect(ref.mailboxCapacity).toBe(100);
    for (let i = 0; i < 50; i++) ref.tell(i);
    await until('message 0 is being handled', isBlocked);
    expect(ref.mailboxSize).toBe(49);
    let drained = false;
    const whenDrained = ref.whenDrained().then(() => (drained = true));

    await sleep(5);
    expect(drained).toBe(false);
    release.open();
    await whenDrained;

    expect(handled).toHaveLength(50);
    expect(ref.mailboxSize).toBe(0);
    await system.stop();
  });

  it('refuses senders still waiting for room with ACTOR_STOPPED when the actor stops', async () => {
    const { system, ref, release, isBlocked } = blockedConsumer(1);
    ref.tell(0);
    await until('message 0 is being handled', isBlocked);
    ref.tell(1);
    const waiting = ref.send(2);

    const stopped = ref.stop();

    await expect(waiting).rejects.toMatchObject({ code: 'ACTOR_STOPPED' });
    release.open();
    await stopped;
    await system.stop();
  });
});
