// Lifecycle notifications of the actor runtime. The runtime has no logger: it reports what happened
// through the system's `onEvent` listener, and the caller decides what to log or count.
import type { ShardflowError } from '../common/errors.ts';

/** The hook or step that threw. */
export type FailurePhase = 'preStart' | 'receive' | 'onChildFailure' | 'preRestart' | 'postStop';

export type ActorEvent =
  /** The actor's first behaviour instance finished `preStart`. */
  | { readonly type: 'started'; readonly path: string }
  /** A hook threw. In `receive` the message is dropped; in `preStart`, `receive` and `onChildFailure` the
   *  actor is restarted or escalates (see the following event); in `preRestart` and `postStop` the error is
   *  only reported. While the actor is stopping, failures are only reported and draining continues. */
  | { readonly type: 'failed'; readonly path: string; readonly phase: FailurePhase; readonly error: unknown }
  /** A fresh behaviour instance finished `preStart` after waiting `backoffMs` (milliseconds). `restarts`
   *  counts the restarts inside the supervision window, this one included. */
  | {
      readonly type: 'restarted';
      readonly path: string;
      readonly restarts: number;
      readonly backoffMs: number;
      readonly error: unknown;
    }
  /** The actor exceeded its restart limit: it is stopped and its parent's `onChildFailure` decides. For a
   *  top-level actor nobody above decides: the actor stays stopped. `error` has code ACTOR_ESCALATED and
   *  the last failure as its cause. */
  | { readonly type: 'escalated'; readonly path: string; readonly error: ShardflowError }
  /** The actor and its children stopped and its `postStop` ran. `error` is set when it stopped because it
   *  escalated. */
  | { readonly type: 'stopped'; readonly path: string; readonly error?: ShardflowError };

/** Receives lifecycle events synchronously; anything it throws is ignored so that a faulty listener
 *  cannot break the actors it watches. */
export type ActorEventListener = (event: ActorEvent) => void;
