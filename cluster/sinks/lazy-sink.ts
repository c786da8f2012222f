// A sink whose store is reached on first use, not when the worker starts: a database that is down
// while a worker starts must not stop the worker (its jobs with other sinks run on, and this job's
// partitions wait for the database instead of crashing the process). Opening is tried again at the
// next write after a failure that retrying can help; a refusal (bad credentials, a table of another
// shape) is kept and reported at every write.
import { isShardflowError, ShardflowError } from '../../common/errors.ts';
import type { Sink, SinkWrite, SinkWriteOutcome } from './sink.ts';

export class LazySink implements Sink {
  private opened: Promise<Sink> | undefined;

  constructor(
    private readonly what: string,
    private readonly open: () => Promise<Sink>,
  ) {}

  async write(batch: readonly SinkWrite[]): Promise<SinkWriteOutcome> {
    return (await this.sink()).write(batch);
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened) await opened.then((s) => s.close()).catch(() => {});
  }

  private sink(): Promise<Sink> {
    if (!this.opened) {
      const opening = this.open().catch((err: unknown) => {
        const failure = isShardflowError(err) ? err : new ShardflowError('SINK_FAILED', `${this.what}: ${(err as Error).message}`, { cause: err });
        if (failure.retryable && this.opened === opening) this.opened = undefined;
        throw failure;
      });
      this.opened = opening;
    }
    return this.opened;
  }
}
