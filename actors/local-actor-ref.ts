// The ActorRef handed out for an actor of this process: a thin, stable facade over its cell, so that
// callers cannot reach the runtime's internals.
import type { ActorCell } from './actor-cell.ts';
import type { ActorRef, ActorStatus, StopOptions } from './actor-ref.ts';
import type { ReplyTo } from './reply-channel.ts';

export class LocalActorRef<M> implements ActorRef<M> {
  constructor(private readonly cell: ActorCell<M>) {}

  get path(): string {
    return this.cell.path;
  }

  get name(): string {
    return this.cell.name;
  }

  get status(): ActorStatus {
    return this.cell.status;
  }

  get mailboxSize(): number {
    return this.cell.mailboxSize;
  }

  get mailboxCapacity(): number {
    return this.cell.options.mailboxCapacity;
  }

  tell(message: M): void {
    this.cell.tell(message);
  }

  send(message: M): Promise<void> {
    return this.cell.send(message);
  }

  ask<R>(request: (replyTo: ReplyTo<R>) => M, timeoutMs: number): Promise<R> {
    return this.cell.ask(request, timeoutMs);
  }

  whenDrained(): Promise<void> {
    return this.cell.whenDrained();
  }

  stop(options?: StopOptions): Promise<void> {
    return this.cell.stop(options?.drain ?? true);
  }

  toString(): string {
    return `ActorRef(${this.cell.path})`;
  }
}
