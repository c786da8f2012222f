// The contract between a parent (an actor or the system) and its children, and the registry of one
// parent's children: unique names, and an orderly stop.
import { ShardflowError } from '../common/errors.ts';
import type { ActorRef } from './actor-ref.ts';

/** What a parent needs from a child. */
export interface ChildCell {
  readonly name: string;
  readonly ref: ActorRef<unknown>;
  /** See `ActorRef.stop`. */
  stop(drain: boolean): Promise<void>;
}

/** What a child needs from its parent. */
export interface Parent {
  /** undefined for the system. */
  readonly ref: ActorRef<unknown> | undefined;
  /** The child stopped: free its name. */
  childStopped(child: ChildCell): void;
  /** The child exceeded its restart limit and stopped; called before its `stop()` resolves. */
  childEscalated(child: ChildCell, error: ShardflowError): void;
}

export class Children<C extends ChildCell> {
  private readonly byName = new Map<string, C>();

  constructor(private readonly parentPath: string) {}

  get size(): number {
    return this.byName.size;
  }

  get(name: string): C | undefined {
    return this.byName.get(name);
  }

  /** Checks the name, then registers the child that `create` makes. */
  add<T extends C>(name: string, create: (path: string) => T): T {
    if (typeof name !== 'string' || name.length === 0 || name.includes('/')) {
      throw new ShardflowError(
        'ACTOR_ARGUMENT_INVALID',
        `cannot spawn ${JSON.stringify(name)} under ${this.parentPath}: a name is a non-empty string without "/"`,
      );
    }
    if (this.byName.has(name)) {
      throw new ShardflowError(
        'ACTOR_NAME_TAKEN',
        `cannot spawn ${this.parentPath}/${name}: a live actor has that path; await its stop() before reusing the name`,
      );
    }
    const child = create(`${this.parentPath}/${name}`);
    this.byName.set(name, child);
    return child;
  }

  /** Frees the child's name (once it has stopped). */
  remove(child: C): void {
    if (this.byName.get(child.name) === child) this.byName.delete(child.name);
  }

  /**
   * Stops every child one after the other, the most recently spawned first: actors spawned later usually
   * depend on earlier ones (a partition actor is handed the sink spawned before it), so the sink still
   * accepts what the partitions flush while they drain.
   */
  async stopAll(drain: boolean): Promise<void> {
    for (const child of [...this.byName.values()].reverse()) await child.stop(drain);
  }

  /** Cuts short the draining of every child (after a parent's `stop({ drain: false })`). */
  stopAllNow(): void {
    for (const child of this.byName.values()) void child.stop(false);
  }
}
