import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ShardflowError } from '../common/errors.ts';
import type { ActorRef } from './actor-ref.ts';
import { ActorSystem } from './actor-system.ts';
import type { ReplyTo } from './reply-channel.ts';
import { planRestart, type RestartPolicy } from './supervision.ts';
import { eventLog, sleep, until } from './testing.ts';

const policy: RestartPolicy = { minBackoffMs: 10, maxBackoffMs: 100, maxRestarts: 5, withinMs: 10_000 };

describe('planRestart', () => {
  it('waits minBackoffMs first and doubles the backoff with each restart inside the window, up to maxBackoffMs', () => {
    const backoffs: number[] = [];
    let history: readonly number[] = [];
    for (let t = 0; t < 5; t++) {
      const plan = planRestart(history, t, policy);
      if (plan.kind !== 'restart') throw new Error(`expected a restart at ${t}`);
      backoffs.push(plan.backoffMs);
      history = plan.history;
    }
    expect(backoffs).toEqual([10, 20, 40, 80, 100]);
  });

  it('escalates on the failure after maxRestarts restarts inside the window', () => {
    expect(planRestart([1, 2, 3, 4, 5], 6, policy)).toEqual({ kind: 'escalate', restarts: 5 });
    expect(planRestart([], 0, { ...policy, maxRestarts: 0 })).toEqual({ kind: 'escalate', restarts: 0 });
  });

  it('forgets restarts older than the window, so a rarely failing actor gets the shortest backoff again', () => {
    const plan = planRestart([0, 1, 2, 3, 4], 10_003, policy);
    expect(plan).toEqual({ kind: 'restart', backoffMs: 20, history: [4, 10_003] });
  });

  it('never allows more than maxRestarts restarts within any window, and keeps every backoff within its bounds', () => {
    fc.assert(
      fc.property(
        fc.record({
          minBackoffMs: fc.integer({ min: 0, max: 50 }),
          extra: fc.integer({ min: 0, max: 1000 }),
          maxRestarts: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constant(Infinity)),
          withinMs: fc.integer({ min: 1, max: 500 }),
        }),
        fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 60 }),
        ({ minBackoffMs, extra, maxRestarts, withinMs }, gaps) => {
          const p = { minBackoffMs, maxBackoffMs: minBackoffMs + extra, maxRestarts, withinMs };
          let history: readonly number[] = [];
          const restarts: number[] = [];
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            const plan = planRestart(history, now, p);
            if (plan.kind === 'escalate') {
              expect(restarts.filter((t) => t > now - withinMs).length).toBeGreaterThanOrEqual(maxRestarts);
              continue;
            }
            expect(plan.backoffMs).toBeGreaterThanOrEqual(p.minBackoffMs);
            expect(plan.backoffMs).toBeLessThanOrEqual(p.maxBackoffMs);
            restarts.push(now);
            history = plan.history;
            expect(restarts.filter((t) => t > now - withinMs).length).toBeLessThanOrEqual(maxRestarts);
          }
        },
      ),
    );
  });
});

type Msg = number | { type: 'seen'; replyTo: ReplyTo<number[]> };

/** An actor that remembers the numbers it saw (in its instance state) and throws on the `failOn` ones. */
function fragile(failOn: (n: number) => boolean, starts: { count: number }, handled: number[]) {
  return () => {
    const seen: number[] = [];
    return {
      preStart() {
        starts.count++;
      },
      receive(msg: Msg) {
        if (typeof msg !== 'number') return void msg.replyTo.reply(seen);
        if (failOn(msg)) throw new Error(`cannot handle ${msg}`);
        seen.push(msg);
        handled.push(msg);
      },
    };
  };
}

describe('supervision', () => {
  it('restarts an actor that throws on message 3 with fresh state and preStart run again, and handles 4..N in order', async () => {
    const log = eventLog();
    const system = new ActorSystem({ onEvent: log.onEvent });
    const starts = { count: 0 };
    const handled: number[] = [];
    const ref = system.spawn<Msg>('fragile', fragile((n) => n === 3, starts, handled), { minBackoffMs: 5 });

    for (let n = 1; n <= 6; n++) ref.tell(n); // 4..6 wait in the mailbox during the backoff
    await until('the actor restarted', () => log.events.some((e) => e.type === 'restarted'));
    for (let n = 7; n <= 10; n++) ref.tell(n);
    const seen = await ref.ask<number[]>((replyTo) => ({ type: 'seen', replyTo }), 1000);

    expect(handled).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10]);
    expect(seen).toEqual([4, 5, 6, 7, 8, 9, 10]); // the state before the failure is gone
    expect(starts.count).toBe(2);
    const failed = log.events.find((e) => e.type === 'failed');
    expect(failed).toMatchObject({ path: '/user/fragile', phase: 'receive', error: { message: 'cannot handle 3' } });
    await system.stop();
  });

  it('waits a backoff before each restart that doubles with every further failure', async () => {
    const log = eventLog();
    const system = new ActorSystem({ onEvent: log.onEvent });
    const ref = system.spawn<Msg>('flaky', fragile((n) => n < 3, { count: 0 }, []), {
      minBackoffMs: 15,
      maxBackoffMs: 1000,
    });

    for (let n = 0; n < 4; n++) ref.tell(n); // 0, 1, 2 fail; 3 succeeds
    await until('three restarts', () => log.events.filter((e) => e.type === 'restarted').length === 3);

    const restarts = log.events.filter((e) => e.type === 'restarted');
    expect(restarts.map((e) => e.backoffMs)).toEqual([15, 30, 60]);
    const failures = log.events.filter((e) => e.type === 'failed');
    const waited = restarts.map((r, i) => r.at - failures[i]!.at);
    expect(waited[0]).toBeGreaterThanOrEqual(14);
    expect(waited[1]).toBeGreaterThanOrEqual(29);
    expect(waited[2]).toBeGreaterThanOrEqual(59);
    await system.stop();
  });

  it("escalates to the parent after maxRestarts: the child is stopped and the parent's onChildFailure decides", async () => {
    const log = eventLog();
    const system = new ActorSystem({ onEvent: log.onEvent });
    const reported: { child: ActorRef<unknown>; error: ShardflowError }[] = [];
    let child: ActorRef<Msg> | undefined;
    const parent = system.spawn<string>('parent', () => ({
      preStart(ctx) {
        child = ctx.spawn<Msg>('child', fragile(() => true, { count: 0 }, []), { minBackoffMs: 1, maxRestarts: 2 });
      },
      onChildFailure(failedChild, error) {
        reported.push({ child: failedChild, error });
      },
    }));
    await until('the child exists', () => child !== undefined);
    for (let n = 1; n <= 3; n++) child!.tell(n); // fail, restart, fail, restart, fail: escalate
    const pending = child!.ask<number[]>((replyTo) => ({ type: 'seen', replyTo }), 10_000).catch((e: unknown) => e);

    await until('the parent heard of it', () => reported.length === 1);

    expect(reported[0]!.child).toBe(child);
    expect(reported[0]!.error).toMatchObject({ code: 'ACTOR_ESCALATED', cause: { message: 'cannot handle 3' } });
    expect(child!.status).toBe('stopped');
    expect(await pending).toMatchObject({ code: 'ACTOR_STOPPED' }); // it was still queued
    expect(() => child!.tell(6)).toThrow(/stopped/);
    expect(log.summary().filter((s) => !s.startsWith('failed'))).toEqual([
      'started:/user/parent',
      'started:/user/parent/child',
      'restarted:/user/parent/child',
      'restarted:/user/parent/child',
      'escalated:/user/parent/child',
      'stopped:/user/parent/child',
    ]);
    expect(parent.status).toBe('active'); // the hook handled it
    await system.stop();
  });

  it('escalates through a parent without onChildFailure up to the system, which stops the top-level actor', async () => {
    const log = eventLog();
    const system = new ActorSystem({ onEvent: log.onEvent, defaults: { minBackoffMs: 1 } });
    let postStops = 0;
    const top = system.spawn<string>(
      'top',
      () => ({
        preStart(ctx) {
          ctx.spawn<Msg>('bad', fragile(() => true, { count: 0 }, []), { maxRestarts: 0 }).tell(1);
        },
        postStop() {
          postStops++;
        },
      }),
      { maxRestarts: 1 }, // survives the first escalation by restarting, not the second
    );
    const bystander = system.spawn<string>('bystander', () => ({}));

    await until('the top-level actor stopped', () => top.status === 'stopped');

    expect(log.summary().filter((s) => s.startsWith('escalated') || s.startsWith('restarted'))).toEqual([
      'escalated:/user/top/bad',
      'restarted:/user/top',
      'escalated:/user/top/bad',
      'escalated:/user/top',
    ]);
    const topFailure = log.events.find((e) => e.type === 'failed' && e.path === '/user/top');
    expect(topFailure).toMatchObject({ phase: 'onChildFailure', error: { code: 'ACTOR_ESCALATED' } });
    expect(log.events.at(-1)).toMatchObject({ type: 'stopped', path: '/user/top', error: { code: 'ACTOR_ESCALATED' } });
    expect(postStops).toBe(1);
    expect(system.child('top')).toBeUndefined();
    expect(bystander.status).toBe('active');
    await system.stop();
  });

  it('stops the children of a restarting actor, so its fresh instance can spawn them again under the same names', async () => {
    const log = eventLog();
    const system = new ActorSystem({ onEvent: log.onEvent, defaults: { minBackoffMs: 1 } });
    const ref = system.spawn<string>('parent', () => ({
      preStart(ctx) {
        ctx.spawn<string>('child', () => ({}));
      },
      receive(msg) {
        if (msg === 'crash') throw new Error('crash');
      },
    }));

    ref.tell('crash');
    await until('the child started again', () => log.summary().filter((s) => s === 'started:/user/parent/child').length === 2);

    expect(log.summary().filter((s) => !s.startsWith('failed'))).toEqual([
      'started:/user/parent',
      'started:/user/parent/child',
      'stopped:/user/parent/child',
      'restarted:/user/parent',
      'started:/user/parent/child',
    ]);
    await system.stop();
  });

  it('retries a preStart that throws, with backoff, until it succeeds', async () => {
    const log = eventLog();
    const system = new ActorSystem({ onEvent: log.onEvent, defaults: { minBackoffMs: 1 } });
    let attempts = 0;
    const handled: string[] = [];
    const ref = system.spawn<string>('restore', () => ({
      preStart() {
        if (++attempts < 3) throw new Error('checkpoint store unavailable');
      },
      receive(msg) {
        handled.push(msg);
      },
    }));
    ref.tell('event');

    await until('the message is handled', () => handled.length === 1);
    await sleep(1);

    expect(attempts).toBe(3);
    expect(log.events.filter((e) => e.type === 'failed').map((e) => e.type === 'failed' && e.phase)).toEqual([
      'preStart',
      'preStart',
    ]);
    await system.stop();
  });
});
