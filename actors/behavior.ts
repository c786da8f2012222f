// What an actor does: a behaviour with lifecycle hooks, every one optional (absent = no-op), and the
// context the runtime hands to them. A behaviour may be a class instance or a plain object; the actor
// holds a factory so that a restart gets a fresh instance and thus fresh state.
import type { ShardflowError } from '../common/errors.ts';
import type { ActorRef, StopOptions } from './actor-ref.ts';
import type { SpawnOptions } from './spawn-options.ts';

export interface ActorContext<M> {
  readonly self: ActorRef<M>;
  /** The parent actor; undefined for a top-level actor, whose parent is the system. */
  readonly parent: ActorRef<unknown> | undefined;
  /** Spawns a child at `<self.path>/<name>`; names are unique among live siblings. */
  spawn<C>(name: string, behavior: BehaviorFactory<C>, options?: SpawnOptions): ActorRef<C>;
  /** Stops a child (or any actor); see `ActorRef.stop`. */
  stop(actor: ActorRef<unknown>, options?: StopOptions): Promise<void>;
  /** The live child with that name. */
  child(name: string): ActorRef<unknown> | undefined;
}

/**
 * The runtime calls the hooks strictly one at a time for an actor, each finishing (when async) before
 * the next starts. Each behaviour instance ends with exactly one of `preRestart` (it failed and is being
 * replaced) or `postStop` (the actor stopped), so release resources in both.
 */
export interface Behavior<M> {
  /** Before the first message of this instance, at start and after each restart. Throwing counts as a
   *  failure (restart or escalate). */
  preStart?(ctx: ActorContext<M>): void | Promise<void>;
  /** Handles one message. Throwing (or rejecting) drops the message and restarts the actor. */
  receive?(message: M, ctx: ActorContext<M>): void | Promise<void>;
  /** On the failed instance, before its children are stopped and it is replaced. */
  preRestart?(error: unknown, ctx: ActorContext<M>): void | Promise<void>;
  /** After the children stopped, on the last instance. */
  postStop?(ctx: ActorContext<M>): void | Promise<void>;
  /**
   * A child exceeded its restart limit and was stopped (its name is free again: re-spawn it here if that
   * helps). Returning handles the failure; throwing makes this actor fail in turn. Absent, this actor
   * fails with the child's ACTOR_ESCALATED error — and so upwards, one restart budget at a time.
   */
  onChildFailure?(child: ActorRef<unknown>, error: ShardflowError, ctx: ActorContext<M>): void | Promise<void>;
}

/** Makes a fresh behaviour instance: `() => new WindowActor(config)` or `() => ({ receive(m) {...} })`. */
export type BehaviorFactory<M> = () => Behavior<M>;
