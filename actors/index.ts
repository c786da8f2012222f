// The actor runtime that hosts a worker's stateful actors (a partition actor per owned partition, its
// window actors, the sink). Actors handle their messages one at a time, in order; bounded mailboxes
// give backpressure (`send` waits for room); failures restart an actor with a fresh behaviour after an
// exponential backoff, then escalate to the parent; stops are orderly (drain, children first, postStop).
//
// Backpressure flows downstream only: a receive that awaits `send`/`ask` to its own actor, an ancestor,
// or anything around a cycle can deadlock once the mailboxes are full. Send upstream with `tell`.
export { ActorSystem, ROOT_PATH, type ActorSystemOptions } from './actor-system.ts';
export type { ActorRef, ActorStatus, StopOptions } from './actor-ref.ts';
export type { ActorContext, Behavior, BehaviorFactory } from './behavior.ts';
export type { ReplyTo } from './reply-channel.ts';
export type { ActorEvent, ActorEventListener, FailurePhase } from './events.ts';
export { DEFAULT_SPAWN_OPTIONS, type SpawnOptions } from './spawn-options.ts';
