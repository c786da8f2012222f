import { describe, expect, it } from 'vitest';
import { isShardflowError } from '../common/errors.ts';
import type { ActorRef } from './actor-ref.ts';
import { ActorSystem } from './actor-system.ts';
import type { ActorContext } from './behavior.ts';
import { thrown, until } from './testing.ts';

describe('actor system', () => {
  it('gives each actor a path under its parent and hands self and parent to its hooks', async () => {
    const system = new ActorSystem();
    const seen: { path: string; parent: string | undefined }[] = [];
    const record = (ctx: ActorContext<unknown>): void => {
      seen.push({ path: ctx.self.path, parent: ctx.parent?.path });
    };
    const partition = system.spawn<unknown>('partition-3', () => ({
      preStart(ctx) {
        record(ctx);
        ctx.spawn<unknown>('window', () => ({ preStart: record }));
      },
    }));

    await until('both started', () => seen.length === 2);

    expect(partition.path).toBe('/user/partition-3');
    expect(seen).toEqual([
      { path: '/user/partition-3', parent: undefined },
      { path: '/user/partition-3/window', parent: '/user/partition-3' },
    ]);
    await system.stop();
  });

  it('rejects a second live actor with the same name under one parent, but not under another parent', async () => {
    const system = new ActorSystem();
    let nested: ActorRef<unknown> | undefined;
    system.spawn<unknown>('worker', () => ({
      preStart(ctx) {
        nested = ctx.spawn<unknown>('worker', () => ({}));
      },
    }));

    const error = thrown(() => system.spawn<unknown>('worker', () => ({})));

    expect(isShardflowError(error, 'ACTOR_NAME_TAKEN')).toBe(true);
    await until('the nested actor exists', () => nested !== undefined);
    expect(nested!.path).toBe('/user/worker/worker');
    await system.stop();
  });

  it('frees a name once its actor has stopped', async () => {
    const system = new ActorSystem();
    const first = system.spawn<unknown>('sink', () => ({}));
    await first.stop();

    const second = system.spawn<unknown>('sink', () => ({}));

    expect(second).not.toBe(first);
    expect(second.status).toBe('active');
    expect(system.child('sink')).toBe(second);
    await system.stop();
  });

  it('rejects bad names and options with ACTOR_ARGUMENT_INVALID and a message that says what to change', () => {
    const system = new ActorSystem();
    const attempts: [string, object][] = [
      ['a/b', {}],
      ['', {}],
      ['ok', { mailboxCapacity: 0 }],
      ['ok', { minBackoffMs: 100, maxBackoffMs: 10 }],
      ['ok', { maxRestarts: -1 }],
      ['ok', { mailboxCapcity: 10 }],
    ];
    const messages = attempts.map(([name, options]) => {
      const error = thrown(() => system.spawn<unknown>(name, () => ({}), options));
      expect(isShardflowError(error, 'ACTOR_ARGUMENT_INVALID')).toBe(true);
      return (error as Error).message;
    });

    expect(messages[2]).toMatch(/mailboxCapacity is 0; use a whole number >= 1/);
    expect(messages[3]).toMatch(/maxBackoffMs is 10; use a number of milliseconds >= minBackoffMs \(100\)/);
    expect(messages[5]).toMatch(/unknown option "mailboxCapcity"/);
    expect(() => new ActorSystem({ defaults: { withinMs: 0 } })).toThrow(/withinMs is 0/);
  });

  it('keeps its actors running when the onEvent listener throws', async () => {
    const system = new ActorSystem({
      onEvent: () => {
        throw new Error('logger broke');
      },
    });
    const handled: string[] = [];
    const ref = system.spawn<string>('robust', () => ({ receive: (m) => void handled.push(m) }));

    ref.tell('still works');
    await ref.whenDrained();

    expect(handled).toEqual(['still works']);
    await system.stop();
  });

  it('refuses to spawn once the system is stopping, and stop() resolves the same way every time', async () => {
    const system = new ActorSystem();
    system.spawn<unknown>('only', () => ({}));

    const first = system.stop();

    expect(isShardflowError(thrown(() => system.spawn<unknown>('late', () => ({}))), 'ACTOR_STOPPED')).toBe(true);
    await first;
    await system.stop();
    expect(system.child('only')).toBeUndefined();
  });
});
