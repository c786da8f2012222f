// The runtime of one actor: its mailbox, the loop that hands messages to the behaviour one at a time,
// supervision (restart with backoff, or escalate) and the orderly stop. Everything that calls the
// behaviour runs inside `run`, so hooks never overlap; outside events (a message, a stop, a child's
// escalation, the end of a backoff) only change state and wake the loop.
import { describeError, ShardflowError } from '../common/errors.ts';
import type { ActorStatus } from './actor-ref.ts';
import type { ActorContext, Behavior, BehaviorFactory } from './behavior.ts';
import { Children, type ChildCell, type Parent } from './children.ts';
import type { Dispatcher } from './dispatcher.ts';
import type { ActorEvent, FailurePhase } from './events.ts';
import { LocalActorRef } from './local-actor-ref.ts';
import { Envelope, Mailbox, type Entry } from './mailbox.ts';
import type { ReplyTo } from './reply-channel.ts';
import { resolveSpawnOptions, type ResolvedSpawnOptions, type SpawnOptions } from './spawn-options.ts';
import { planRestart } from './supervision.ts';

/** Services shared by every actor of a system. */
export interface Runtime {
  readonly dispatcher: Dispatcher;
  readonly defaults: ResolvedSpawnOptions;
  emit(event: ActorEvent): void;
  /** Monotonic clock in ms, for the restart window. */
  now(): number;
}

const RESOLVED: Promise<void> = Promise.resolve();

export class ActorCell<M> implements Parent {
  readonly ref: LocalActorRef<M>;
  readonly options: ResolvedSpawnOptions;
  private readonly ctx: ActorContext<M>;
  private readonly mailbox: Mailbox<M>;
  private readonly children: Children<ChildCell>;
  private readonly childFailures: { child: ChildCell; error: ShardflowError }[] = [];
  private behavior: Behavior<M> | undefined;
  /** starting: a fresh instance is due; backoff: waiting to restart; stopping: inside the final stop. */
  private phase: 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped' = 'starting';
  private stopRequest: { drain: boolean } | undefined;
  private escalation: ShardflowError | undefined;
  private restartHistory: readonly number[] = [];
  private lastRestart: { error: unknown; backoffMs: number; restarts: number } | undefined;
  private backoffTimer: ReturnType<typeof setTimeout> | undefined;
  /** A run of the loop is scheduled or in progress. */
  private scheduled = false;
  private drainWaiters: (() => void)[] = [];
  private readonly stopped: Promise<void>;
  private resolveStopped!: () => void;

  constructor(
    readonly name: string,
    readonly path: string,
    private readonly factory: BehaviorFactory<M>,
    options: SpawnOptions | undefined,
    private readonly parent: Parent,
    private readonly runtime: Runtime,
  ) {
    this.options = resolveSpawnOptions(path, options, runtime.defaults);
    this.mailbox = new Mailbox(path, this.options.mailboxCapacity, () => this.wake());
    this.children = new Children(path);
    this.ref = new LocalActorRef(this);
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.ctx = {
      self: this.ref,
      parent: parent.ref,
      spawn: (childName, behavior, childOptions) => this.spawn(childName, behavior, childOptions).ref,
      stop: (actor, stopOptions) => actor.stop(stopOptions),
      child: (childName) => this.children.get(childName)?.ref,
    };
    this.wake();
  }

  get status(): ActorStatus {
    if (this.phase === 'stopped') return 'stopped';
    return this.stopRequest === undefined ? 'active' : 'stopping';
  }

  get mailboxSize(): number {
    return this.mailbox.size;
  }

  spawn<C>(name: string, factory: BehaviorFactory<C>, options: SpawnOptions | undefined): ActorCell<C> {
    if (this.phase === 'stopping' || this.phase === 'stopped') {
      throw new ShardflowError('ACTOR_STOPPED', `cannot spawn ${name} under ${this.path}: it is stopping`);
    }
    return this.children.add(name, (path) => new ActorCell(name, path, factory, options, this, this.runtime));
  }

  // ---- messages in (see ActorRef for the contract) ----

  tell(message: M): void {
    this.mailbox.tell(message);
  }

  send(message: M): Promise<void> {
    return this.mailbox.send(message);
  }

  ask<R>(request: (replyTo: ReplyTo<R>) => M, timeoutMs: number): Promise<R> {
    return this.mailbox.ask(request, timeoutMs);
  }

  whenDrained(): Promise<void> {
    if (this.phase === 'stopped' || (this.mailbox.size === 0 && !this.scheduled)) return RESOLVED;
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  stop(drain: boolean): Promise<void> {
    if (this.phase === 'stopped') return this.stopped;
    if (this.stopRequest === undefined) {
      this.stopRequest = { drain };
      this.mailbox.close();
    } else if (!drain && this.stopRequest.drain) {
      this.stopRequest.drain = false;
      this.children.stopAllNow();
    }
    if (!this.stopRequest.drain) this.mailbox.clear();
    this.wake();
    return this.stopped;
  }

  // ---- from children ----

  childStopped(child: ChildCell): void {
    this.children.remove(child);
  }

  childEscalated(child: ChildCell, error: ShardflowError): void {
    if (this.stopRequest !== undefined || this.phase === 'stopped') return; // stopping anyway
    this.childFailures.push({ child, error });
    this.wake();
  }

  // ---- the loop ----

  private wake(): void {
    if (this.scheduled || this.phase === 'stopped') return;
    this.scheduled = true;
    this.runtime.dispatcher.schedule(this.run);
  }

  private readonly run = async (): Promise<void> => {
    let handled = 0;
    for (;;) {
      if (this.phase === 'stopped') break; // it escalated
      if (this.stopRequest !== undefined && this.readyToStop()) {
        await this.finishStop();
        break;
      }
      if (this.phase === 'backoff') break; // the backoff timer wakes the loop
      if (this.phase === 'starting') {
        await this.startInstance();
        continue;
      }
      const failure = this.childFailures.shift();
      if (failure !== undefined) {
        await this.onChildFailure(failure.child, failure.error);
        continue;
      }
      if (this.mailbox.size === 0) break;
      if (handled === this.options.throughput) {
        this.runtime.dispatcher.handled(handled);
        this.runtime.dispatcher.schedule(this.run); // stay scheduled: let other actors and I/O in
        return;
      }
      handled++;
      const entry: Entry<M> = this.mailbox.take();
      let message: M;
      let reply: ReplyTo<unknown> | undefined;
      if (entry instanceof Envelope) {
        message = entry.message;
        reply = entry.reply;
      } else {
        message = entry;
      }
      try {
        const result = this.behavior?.receive?.(message, this.ctx);
        if (result !== undefined && typeof result.then === 'function') await result;
      } catch (error) {
        reply?.fail(
          new ShardflowError('ACTOR_FAILED', `${this.path} threw handling the request: ${describeError(error)}`, {
            cause: error,
          }),
        );
        await this.fail('receive', error);
      }
    }
    this.runtime.dispatcher.handled(handled);
    this.scheduled = false;
    if (this.mailbox.size === 0 && this.drainWaiters.length > 0) this.notifyDrained();
  };

  /** Whether the requested stop can proceed now; may cut a pending restart short. */
  private readyToStop(): boolean {
    if (!this.stopRequest!.drain) return true;
    if (this.phase === 'backoff') {
      // Queued messages get the fresh instance at once; without any, there is nothing to start it for.
      clearTimeout(this.backoffTimer);
      if (this.mailbox.size === 0) return true;
      this.phase = 'starting';
      return false;
    }
    return this.phase === 'running' && this.mailbox.size === 0;
  }

  // ---- lifecycle ----

  private async startInstance(): Promise<void> {
    try {
      const behavior = this.factory();
      this.behavior = behavior;
      await behavior.preStart?.(this.ctx);
    } catch (error) {
      await this.fail('preStart', error);
      return;
    }
    this.phase = 'running';
    const restart = this.lastRestart;
    if (restart === undefined) this.runtime.emit({ type: 'started', path: this.path });
    else this.runtime.emit({ type: 'restarted', path: this.path, ...restart });
  }

  private async onChildFailure(child: ChildCell, error: ShardflowError): Promise<void> {
    const behavior = this.behavior;
    if (behavior?.onChildFailure === undefined) return this.fail('onChildFailure', error);
    try {
      await behavior.onChildFailure(child.ref, error, this.ctx);
    } catch (hookError) {
      await this.fail('onChildFailure', hookError);
    }
  }

  /** A hook threw: restart after a backoff, or escalate; while stopping, only report it. */
  private async fail(phase: FailurePhase, error: unknown): Promise<void> {
    this.runtime.emit({ type: 'failed', path: this.path, phase, error });
    if (this.stopRequest !== undefined) {
      if (phase === 'preStart') this.stop(false); // no working instance to drain with
      return;
    }
    const plan = planRestart(this.restartHistory, this.runtime.now(), this.options);
    if (plan.kind === 'escalate') return this.escalate(error, plan.restarts);
    this.restartHistory = plan.history;
    // End the failed instance, then free its children's names for the fresh instance.
    const failed = this.behavior;
    this.behavior = undefined;
    await this.runHook('preRestart', () => failed?.preRestart?.(error, this.ctx));
    await this.children.stopAll(false);
    this.childFailures.length = 0; // they concern children of the failed instance
    this.lastRestart = { error, backoffMs: plan.backoffMs, restarts: plan.history.length };
    this.phase = 'backoff';
    this.backoffTimer = setTimeout(() => {
      if (this.phase !== 'backoff') return;
      this.phase = 'starting';
      this.wake();
    }, plan.backoffMs);
  }

  private async escalate(error: unknown, restarts: number): Promise<void> {
    const escalation = new ShardflowError(
      'ACTOR_ESCALATED',
      `${this.path} failed again after ${restarts} restarts within ${this.options.withinMs} ms ` +
        `(maxRestarts ${this.options.maxRestarts}) and was stopped: ${describeError(error)}`,
      { cause: error },
    );
    this.runtime.emit({ type: 'escalated', path: this.path, error: escalation });
    this.escalation = escalation;
    this.stop(false);
    await this.finishStop();
  }

  private async finishStop(): Promise<void> {
    this.phase = 'stopping';
    clearTimeout(this.backoffTimer);
    this.mailbox.clear();
    await this.children.stopAll(this.stopRequest!.drain);
    const last = this.behavior;
    this.behavior = undefined;
    await this.runHook('postStop', () => last?.postStop?.(this.ctx));
    this.mailbox.failOpenRequests();
    this.phase = 'stopped';
    this.parent.childStopped(this);
    const escalation = this.escalation;
    this.runtime.emit({ type: 'stopped', path: this.path, ...(escalation && { error: escalation }) });
    // Before `stopped` resolves: a parent restarting meanwhile must hear of it while it forgets its children.
    if (escalation !== undefined) this.parent.childEscalated(this, escalation);
    this.notifyDrained();
    this.resolveStopped();
  }

  /** Runs a hook whose failure is only reported. */
  private async runHook(phase: FailurePhase, hook: () => void | Promise<void>): Promise<void> {
    try {
      await hook();
    } catch (error) {
      this.runtime.emit({ type: 'failed', path: this.path, phase, error });
    }
  }

  private notifyDrained(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
