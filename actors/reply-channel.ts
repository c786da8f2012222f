// The reply side of request/reply (`ask`): a single-use channel carried inside the request message.
// Whoever completes it first wins — the reply, a failure, the timeout, or the actor stopping — and every
// later attempt is a no-op that returns false, so a late reply can never crash the replier.
import { ShardflowError } from '../common/errors.ts';

/** Put this in a request message; the receiving actor (or whoever it forwards it to) answers once. */
export interface ReplyTo<R> {
  /** Completes the request with `value`. Returns false, doing nothing, if it was already completed, timed
   *  out, or the actor it was sent to stopped. */
  reply(value: R): boolean;
  /** Completes the request with an error (give it a ShardflowError so the asker can tell causes apart).
   *  Same single-use rule as `reply`. */
  fail(error: Error): boolean;
  /** True until the request is completed in any way. */
  readonly isOpen: boolean;
}

export class ReplyChannel<R> implements ReplyTo<R> {
  readonly promise: Promise<R>;
  private open = true;
  private resolve!: (value: R) => void;
  private reject!: (error: unknown) => void;
  private readonly timer: ReturnType<typeof setTimeout> | undefined;

  /** `onClose` runs once when the channel completes in any way (the actor uses it to forget the request). */
  constructor(
    target: string,
    timeoutMs: number,
    private readonly onClose: (channel: ReplyChannel<R>) => void,
  ) {
    if (!(timeoutMs > 0)) {
      throw new ShardflowError(
        'ACTOR_ARGUMENT_INVALID',
        `ask to ${target}: timeoutMs is ${timeoutMs}; use a number of milliseconds > 0 (Infinity waits forever)`,
      );
    }
    this.promise = new Promise<R>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (timeoutMs !== Infinity) {
      this.timer = setTimeout(() => {
        this.fail(new ShardflowError('REQUEST_TIMEOUT', `ask to ${target} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
    }
  }

  get isOpen(): boolean {
    return this.open;
  }

  reply(value: R): boolean {
    if (!this.close()) return false;
    this.resolve(value);
    return true;
  }

  fail(error: Error): boolean {
    if (!this.close()) return false;
    this.reject(error);
    return true;
  }

  private close(): boolean {
    if (!this.open) return false;
    this.open = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.onClose(this);
    return true;
  }
}
