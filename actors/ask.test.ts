import { describe, expect, it } from 'vitest';
import { ActorSystem } from './actor-system.ts';
import type { ReplyTo } from './reply-channel.ts';
import { gate, until } from './testing.ts';

type CounterMsg =
  | { type: 'add'; n: number }
  | { type: 'get'; replyTo: ReplyTo<number> }
  /** Keeps the reply channel without answering. */
  | { type: 'hold'; replyTo: ReplyTo<number> }
  | { type: 'block'; until: Promise<void> }
  | { type: 'crash'; replyTo: ReplyTo<number> };

function counter() {
  const system = new ActorSystem();
  const held: ReplyTo<number>[] = [];
  const ref = system.spawn<CounterMsg>(
    'counter',
    () => {
      let total = 0;
      return {
        async receive(msg) {
          switch (msg.type) {
            case 'add':
              total += msg.n;
              return;
            case 'get':
              msg.replyTo.reply(total);
              return;
            case 'hold':
              held.push(msg.replyTo);
              return;
            case 'block':
              await msg.until;
              return;
            case 'crash':
              throw new Error('cannot count');
          }
        },
      };
    },
    { minBackoffMs: 0 },
  );
  return { system, ref, held };
}

describe('request/reply', () => {
  it('resolves an ask with the reply, after the messages sent before it', async () => {
    const { system, ref } = counter();
    ref.tell({ type: 'add', n: 2 });
    ref.tell({ type: 'add', n: 3 });

    await expect(ref.ask<number>((replyTo) => ({ type: 'get', replyTo }), 1000)).resolves.toBe(5);
    await system.stop();
  });

  it('rejects with REQUEST_TIMEOUT when no reply comes in time, and a late reply is ignored', async () => {
    const { system, ref, held } = counter();
    const started = performance.now();

    await expect(ref.ask<number>((replyTo) => ({ type: 'hold', replyTo }), 20)).rejects.toMatchObject({
      code: 'REQUEST_TIMEOUT',
    });

    expect(performance.now() - started).toBeGreaterThanOrEqual(19);
    expect(held[0]!.isOpen).toBe(false);
    expect(held[0]!.reply(1)).toBe(false);
    await system.stop();
  });

  it('uses a reply channel once: the first answer wins and later ones report false', async () => {
    const { system, ref, held } = counter();
    const answer = ref.ask<number>((replyTo) => ({ type: 'hold', replyTo }), 1000);
    await until('the request is held', () => held.length === 1);

    expect(held[0]!.reply(7)).toBe(true);
    expect(held[0]!.reply(8)).toBe(false);
    expect(held[0]!.fail(new Error('too late'))).toBe(false);
    await expect(answer).resolves.toBe(7);
    await system.stop();
  });

  it('rejects an ask to a stopped actor with ACTOR_STOPPED', async () => {
    const { system, ref } = counter();
    await ref.stop();

    await expect(ref.ask<number>((replyTo) => ({ type: 'get', replyTo }), 1000)).rejects.toMatchObject({
      code: 'ACTOR_STOPPED',
    });
    await system.stop();
  });

  it('rejects asks still queued, or held unanswered, with ACTOR_STOPPED when the actor is stopped', async () => {
    const { system, ref, held } = counter();
    const unanswered = ref.ask<number>((replyTo) => ({ type: 'hold', replyTo }), 10_000);
    const release = gate();
    ref.tell({ type: 'block', until: release.promise });
    const queued = ref.ask<number>((replyTo) => ({ type: 'get', replyTo }), 10_000);
    await until('the first request is held', () => held.length === 1);

    const stopped = ref.stop({ drain: false });

    await expect(queued).rejects.toMatchObject({ code: 'ACTOR_STOPPED' }); // at once, not after the block
    release.open();
    await stopped;
    await expect(unanswered).rejects.toMatchObject({ code: 'ACTOR_STOPPED' });
    await system.stop();
  });

  it('rejects an ask with ACTOR_FAILED, carrying the error as cause, as soon as handling it throws', async () => {
    const { system, ref } = counter();
    const started = performance.now();

    const failure = await ref.ask<number>((replyTo) => ({ type: 'crash', replyTo }), 10_000).catch((e: unknown) => e);

    expect(failure).toMatchObject({ code: 'ACTOR_FAILED', cause: { message: 'cannot count' } });
    expect(performance.now() - started).toBeLessThan(1000);
    await expect(ref.ask<number>((replyTo) => ({ type: 'get', replyTo }), 1000)).resolves.toBe(0); // restarted
    await system.stop();
  });

  it('rejects an ask whose timeout is not a positive number of milliseconds', async () => {
    const { system, ref } = counter();

    await expect(ref.ask<number>((replyTo) => ({ type: 'get', replyTo }), 0)).rejects.toMatchObject({
      code: 'ACTOR_ARGUMENT_INVALID',
    });
    await system.stop();
  });
});
