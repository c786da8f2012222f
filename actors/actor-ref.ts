// The handle through which everything talks to an actor. A ref stays valid for the actor's whole life,
// across restarts; once the actor stopped it refuses messages with ACTOR_STOPPED. An actor spawned again
// under the same name gets a new ref.
import type { ReplyTo } from './reply-channel.ts';

export type ActorStatus = 'active' | 'stopping' | 'stopped';

export interface StopOptions {
  /** true (default): the messages already in the mailbox are handled first, then the children stop (also
   *  draining), then `postStop` runs. false: they are dropped and requests among them fail with
   *  ACTOR_STOPPED; the message being handled still finishes. */
  drain?: boolean;
}

export interface ActorRef<M> {
  /** Unique in the system, e.g. `/user/partition-3/window`. */
  readonly path: string;
  readonly name: string;
  /** 'stopping' while it drains; it refuses new messages from the moment `stop` is called. */
  readonly status: ActorStatus;
  /** Messages waiting in the mailbox, not counting the one being handled: the pressure gauge. */
  readonly mailboxSize: number;
  readonly mailboxCapacity: number;

  /**
   * Fire-and-forget. Throws ACTOR_MAILBOX_FULL when the mailbox is full (the message is not queued; use
   * `send` to wait for room instead) and ACTOR_STOPPED once the actor is stopping or stopped.
   */
  tell(message: M): void;

  /**
   * Resolves when the message is accepted into the mailbox — at once while there is room, else when room
   * frees up (producers that await it slow down to the actor's pace: this is the backpressure signal).
   * Rejects with ACTOR_STOPPED once the actor is stopping or stopped, including while waiting for room.
   * Messages from one producer are queued in the order it sent them.
   */
  send(message: M): Promise<void>;

  /**
   * Request/reply: builds the request around a single-use reply channel, sends it (waiting for room like
   * `send`), and resolves with the reply. Rejects with REQUEST_TIMEOUT after `timeoutMs` (ms; Infinity
   * waits forever), with ACTOR_STOPPED if the actor is stopped or stops before replying, with
   * ACTOR_FAILED if handling the request throws, or with whatever the replier passes to `fail`. A request
   * that timed out may still be handled; its late reply is ignored.
   */
  ask<R>(request: (replyTo: ReplyTo<R>) => M, timeoutMs: number): Promise<R>;

  /** Resolves once the mailbox is empty and no message is being handled (or the actor stopped). */
  whenDrained(): Promise<void>;

  /**
   * Stops the actor and its children (children first), runs `postStop`, and resolves when all is done.
   * Idempotent; `{ drain: false }` also cuts short a draining stop. Do not await it from inside the
   * actor's own `receive` (or a descendant's): the stop waits for that `receive` to finish.
   */
  stop(options?: StopOptions): Promise<void>;
}
