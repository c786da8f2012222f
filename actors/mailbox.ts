// An actor's bounded FIFO mailbox: how messages and requests are accepted, made to wait, or refused.
// Senders waiting for room are admitted in the order they started waiting, one per freed slot, so `send`
// keeps each producer's order and the mailbox never holds more than `capacity` messages. Senders wait
// only while the mailbox is full, so a `tell` can never overtake a waiting `send`.
import { ShardflowError } from '../common/errors.ts';
import { Fifo } from './fifo.ts';
import { ReplyChannel, type ReplyTo } from './reply-channel.ts';

/** A request's message travels with its reply channel, so that the runtime can complete the request at
 *  once if handling the message throws. Not exported from the package: no user message can be one. */
export class Envelope<M> {
  constructor(
    readonly message: M,
    readonly reply: ReplyTo<unknown>,
  ) {}
}

export type Entry<M> = M | Envelope<M>;

interface WaitingSender<M> {
  readonly entry: Entry<M>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

const ACCEPTED: Promise<void> = Promise.resolve();

export class Mailbox<M> {
  private readonly queue: Fifo<Entry<M>>;
  private readonly waiting = new Fifo<WaitingSender<M>>(4);
  /** Requests sent here and not answered yet: they fail with ACTOR_STOPPED when the actor stops. */
  private readonly openRequests = new Set<ReplyTo<unknown>>();
  private closed = false;

  /** `onAccept` runs whenever a sender's entry is accepted without waiting (to wake the actor). */
  constructor(
    private readonly path: string,
    readonly capacity: number,
    private readonly onAccept: () => void,
  ) {
    this.queue = new Fifo(Math.min(capacity, 16));
  }

  get size(): number {
    return this.queue.size;
  }

  /** Fire-and-forget; throws when the mailbox is full or closed. */
  tell(message: M): void {
    if (this.closed) throw this.stoppedError();
    if (this.queue.size >= this.capacity) {
      throw new ShardflowError(
        'ACTOR_MAILBOX_FULL',
        `${this.path}: mailbox full (${this.capacity} messages); await send() to wait for room, or raise mailboxCapacity`,
      );
    }
    this.queue.push(message);
    this.onAccept();
  }

  /** Accepts the entry now if there is room, else when a slot frees up and every earlier waiting sender
   *  has been admitted. Rejects once the mailbox is closed. */
  send(entry: Entry<M>): Promise<void> {
    if (this.closed) return Promise.reject(this.stoppedError());
    if (this.queue.size < this.capacity) {
      this.queue.push(entry);
      this.onAccept();
      return ACCEPTED;
    }
    return new Promise<void>((resolve, reject) => this.waiting.push({ entry, resolve, reject }));
  }

  /** Sends the request that `build` makes around a fresh reply channel; resolves with the reply. */
  ask<R>(build: (replyTo: ReplyTo<R>) => M, timeoutMs: number): Promise<R> {
    if (this.closed) return Promise.reject(this.stoppedError());
    let channel: ReplyChannel<R>;
    try {
      channel = new ReplyChannel<R>(this.path, timeoutMs, (c) => this.openRequests.delete(c));
    } catch (error) {
      return Promise.reject(error);
    }
    this.openRequests.add(channel);
    try {
      this.send(new Envelope(build(channel), channel)).catch((error: Error) => channel.fail(error));
    } catch (error) {
      channel.fail(error as Error);
    }
    return channel.promise;
  }

  /** Removes the oldest entry (call only when `size > 0`) and admits the first waiting sender. */
  take(): Entry<M> {
    const entry = this.queue.shift() as Entry<M>;
    const next = this.waiting.shift();
    if (next !== undefined) {
      this.queue.push(next.entry);
      next.resolve();
    }
    return entry;
  }

  /** Accepts nothing more: new and waiting senders are refused with ACTOR_STOPPED. Queued entries stay. */
  close(): void {
    this.closed = true;
    const error = this.stoppedError();
    for (const sender of this.waiting.drain()) sender.reject(error);
  }

  /** Drops every queued entry; requests among them fail with ACTOR_STOPPED. */
  clear(): void {
    const error = this.stoppedError();
    for (const entry of this.queue.drain()) if (entry instanceof Envelope) entry.reply.fail(error);
  }

  /** Fails every request still unanswered with ACTOR_STOPPED (the actor stopped). */
  failOpenRequests(): void {
    const error = this.stoppedError();
    for (const request of [...this.openRequests]) request.fail(error);
  }

  private stoppedError(): ShardflowError {
    return new ShardflowError('ACTOR_STOPPED', `${this.path} is stopped or stopping and accepts no messages`);
  }
}
