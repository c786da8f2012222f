// The root of a process's actors. Top-level actors live under `/user`; the system is their parent: when
// one of them escalates, nobody above can decide, so it stays stopped (the `escalated` event tells the
// caller, who may spawn it again).
import { performance } from 'node:perf_hooks';
import { ShardflowError } from '../common/errors.ts';
import { ActorCell, type Runtime } from './actor-cell.ts';
import type { ActorRef, StopOptions } from './actor-ref.ts';
import type { BehaviorFactory } from './behavior.ts';
import { Children, type ChildCell, type Parent } from './children.ts';
import { Dispatcher } from './dispatcher.ts';
import type { ActorEvent, ActorEventListener } from './events.ts';
import { resolveSpawnOptions, type SpawnOptions } from './spawn-options.ts';

export interface ActorSystemOptions {
  /** Receives every lifecycle event, synchronously (e.g. to log it); what it throws is ignored. */
  onEvent?: ActorEventListener;
  /** Spawn options for every actor of this system; each spawn may override them. */
  defaults?: SpawnOptions;
}

export const ROOT_PATH = '/user';

export class ActorSystem {
  private readonly runtime: Runtime;
  private readonly children = new Children<ChildCell>(ROOT_PATH);
  private readonly root: Parent;
  private stopping: Promise<void> | undefined;

  constructor(options: ActorSystemOptions = {}) {
    const listener = options.onEvent;
    this.runtime = {
      dispatcher: new Dispatcher(),
      defaults: resolveSpawnOptions('actors (system defaults)', options.defaults),
      now: () => performance.now(),
      emit: (event: ActorEvent) => {
        try {
          listener?.(event);
        } catch {
          // A listener's bug must not break the actors it watches.
        }
      },
    };
    this.root = {
      ref: undefined,
      childStopped: (child) => this.children.remove(child),
      childEscalated: () => {}, // already reported by the child's `escalated` event
    };
  }

  /** Spawns a top-level actor at `/user/<name>`; it starts (runs `preStart`) asynchronously, and
   *  messages sent before that wait in its mailbox. */
  spawn<M>(name: string, behavior: BehaviorFactory<M>, options?: SpawnOptions): ActorRef<M> {
    if (this.stopping !== undefined) {
      throw new ShardflowError('ACTOR_STOPPED', `cannot spawn ${name}: the actor system is stopping`);
    }
    return this.children.add(name, (path) => new ActorCell(name, path, behavior, options, this.root, this.runtime))
      .ref;
  }

  /** The live top-level actor with that name. */
  child(name: string): ActorRef<unknown> | undefined {
    return this.children.get(name)?.ref;
  }

  /**
   * Stops every actor: top-level actors one after the other, the most recently spawned first, each
   * after its children (see `ActorRef.stop` for `drain`). Resolves when every `postStop` has run.
   * Idempotent; no actor can be spawned once it was called.
   */
  stop(options?: StopOptions): Promise<void> {
    const drain = options?.drain ?? true;
    if (!drain) this.children.stopAllNow();
    this.stopping ??= this.children.stopAll(drain);
    return this.stopping;
  }
}
