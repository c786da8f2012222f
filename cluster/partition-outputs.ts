// Carries out a partition task's effects (task/effects.ts) against the outside world, without making
// the partition wait for them: sink writes run one batch after another in the background, side
// outputs are published through the worker's asynchronous publisher, and a checkpoint is stored as
// soon as everything before it is durable, while the partition goes on processing. `ready()` holds
// the partition back only when too much is still on its way (bounded memory).
//
// Failures: a sink that is unavailable is retried here with backoff for as long as it takes (the
// partition stops reading meanwhile); rows a sink refuses are dead-lettered (`sink-rejected`); a side
// output that cannot be published after a few tries, a refused sink write, or a checkpoint refused
// because another worker owns the partition, fail the partition (it restarts from its checkpoint or,
// when fenced, stops).
import { createHash } from 'node:crypto';
import { describeError, isShardflowError } from '../common/errors.ts';
import { cleanHeaderValue, truncateForLog } from '../common/header-value.ts';
import { metrics } from '../common/metrics.ts';
import { deadLetterSubject, HEADERS, lateSubject, rejectedRowSubject, type PartitionId } from '../common/names.ts';
import type { RateLimitedLog } from '../common/rate-limited-log.ts';
import type { CheckpointEffect, Effect, SinkWrite } from '../task/effects.ts';
import type { AsyncPublisher } from '../nats/async-publisher.ts';
import { fitPayload } from '../nats/message-size.ts';
import type { KvCheckpointStore, PartitionLease } from './checkpoint-store.ts';
import type { RejectedWrite, Sink } from './sinks/sink.ts';

export interface OutputsEnv {
  readonly id: PartitionId;
  readonly publisher: AsyncPublisher;
  readonly sink: Sink;
  readonly store: KvCheckpointStore;
  readonly lease: PartitionLease;
  /** Largest message the server takes, bytes (side outputs are cut to fit). */
  readonly maxPayload: number;
  /** Side-output log lines (dead letters, late events, sink retries), rate-limited. */
  readonly log: RateLimitedLog;
  /** Told when a checkpoint is stored or could not be. */
  readonly onCheckpoint: (seq: number, stored: boolean, bytes: number, ms: number) => void;
}

/** Results and side outputs on their way, at most, before the partition waits (ready()). */
const MAX_OUTSTANDING = 20_000;
/** Tries of a side-output publish before the partition fails (and replays from its checkpoint). */
const SIDE_OUTPUT_ATTEMPTS = 3;
/** Longest wait between two tries of an unavailable sink, ms. */
const SINK_RETRY_MAX_MS = 5_000;

export class PartitionOutputs {
  private tail: Promise<void> = Promise.resolve();
  private readonly side = new Set<Promise<unknown>>();
  private outstanding = 0;
  private failure: Error | undefined;
  private closed = false;
  private readonly waiters: (() => void)[] = [];
  private readonly labels: { job: string; partition: string };

  constructor(private readonly env: OutputsEnv) {
    this.labels = { job: env.id.job, partition: String(env.id.index) };
  }

  /** Starts carrying out the effects of one step, in order. Idle markers are not outputs: the caller
   *  handles them. */
  run(effects: readonly Effect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'write':
          this.enqueueWrite(e.writes);
          break;
        case 'dead-letter':
          metrics.deadLetters.inc({ job: this.env.id.job, reason: e.reason });
          this.env.log.warn({ reason: e.reason, seq: e.position.seq, index: e.position.index, detail: truncateForLog(e.message) }, 'event dead-lettered');
          this.publishSide(deadLetterSubject(this.env.id.job, this.env.id.index, e.position.seq, e.position.index), e.data, {
            [HEADERS.reason]: e.reason,
            [HEADERS.message]: cleanHeaderValue(e.message),
            [HEADERS.partition]: String(this.env.id.index),
            [HEADERS.sourceSeq]: String(e.position.seq),
            [HEADERS.sourceIndex]: String(e.position.index),
          });
          break;
        case 'late':
          metrics.lateEvents.inc(this.labels);
          this.env.log.info({ reason: e.reason, seq: e.position.seq, key: truncateForLog(e.key, 80), eventTime: e.eventTime }, 'late event to side output');
          this.publishSide(lateSubject(this.env.id.job, this.env.id.index, e.position.seq, e.position.index), JSON.stringify(e.value), {
            [HEADERS.reason]: e.reason,
            [HEADERS.message]: cleanHeaderValue(e.message),
            [HEADERS.partition]: String(this.env.id.index),
            [HEADERS.sourceSeq]: String(e.position.seq),
            [HEADERS.sourceIndex]: String(e.position.index),
            [HEADERS.watermark]: String(e.watermark),
          });
          break;
        case 'checkpoint':
          this.enqueueCheckpoint(e);
          break;
        case 'idle-marker':
          break;
      }
    }
  }

  /** Resolves when the partition may process more; rejects once an output failed. */
  async ready(): Promise<void> {
    while (!this.failure && !this.closed && this.outstanding >= MAX_OUTSTANDING) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
  }

  /** Everything so far is durable (or the first failure is thrown). */
  async drain(): Promise<void> {
    await this.tail;
    await Promise.all([...this.side]);
    if (this.failure) throw this.failure;
  }

  /** Stores a checkpoint now, after everything before it (a graceful release or shutdown). */
  async checkpoint(effect: CheckpointEffect): Promise<void> {
    this.enqueueCheckpoint(effect);
    await this.drain();
  }

  /** Nothing more is written after this (the actor failed or stopped). */
  close(): void {
    this.closed = true;
    this.wake();
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  private fail(err: unknown): void {
    if (!this.failure) this.failure = err instanceof Error ? err : new Error(String(err));
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private track(n: number): void {
    this.outstanding += n;
    if (this.outstanding < MAX_OUTSTANDING) this.wake();
  }

  private enqueueWrite(writes: SinkWrite[]): void {
    this.track(writes.length);
    this.tail = this.tail.then(async () => {
      if (this.failure || this.closed) return;
      try {
        const outcome = await this.writeUntilAccepted(writes);
        metrics.windowResults.inc(this.labels, writes.length - outcome.length);
        if (outcome.length > 0) await Promise.all(outcome.map((r) => this.deadLetterRow(r)));
      } catch (err) {
        this.fail(err);
      } finally {
        this.track(-writes.length);
      }
    });
  }

  /** The sink's answer for `writes`, retrying while the sink is unavailable. */
  private async writeUntilAccepted(writes: SinkWrite[]): Promise<readonly RejectedWrite[]> {
    let delay = 200;
    for (;;) {
      try {
        return (await this.env.sink.write(writes)).rejected;
      } catch (err) {
        if (!isShardflowError(err) || !err.retryable || this.closed) throw err;
        metrics.sinkRetries.inc({ job: this.env.id.job });
        this.env.log.warn({ err: truncateForLog(describeError(err), 400), retryInMs: delay }, 'sink unavailable: the partition waits and tries the same results again');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, SINK_RETRY_MAX_MS);
      }
    }
  }

  private async deadLetterRow(r: RejectedWrite): Promise<void> {
    const w = r.write;
    const identity = w.op === 'upsert' ? [w.row.job, w.row.key, w.row.window_start, w.row.window_end, w.row.revision, 'u'] : [w.job, w.key, w.window_start, w.window_end, w.revision, 'd'];
    const digest = createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 32);
    metrics.deadLetters.inc({ job: this.env.id.job, reason: 'sink-rejected' });
    this.env.log.warn({ reason: 'sink-rejected', detail: truncateForLog(r.message, 300) }, 'result row dead-lettered: the sink refused it');
    await this.publishWithRetry(rejectedRowSubject(this.env.id.job, this.env.id.index, digest), JSON.stringify(w), {
      [HEADERS.reason]: 'sink-rejected',
      [HEADERS.message]: cleanHeaderValue(r.message),
      [HEADERS.partition]: String(this.env.id.index),
    });
  }

  private publishSide(subject: string, data: Uint8Array | string, headers: Record<string, string>): void {
    this.track(1);
    const p = this.publishWithRetry(subject, data, headers)
      .catch((err: unknown) => this.fail(err))
      .finally(() => {
        this.side.delete(p);
        this.track(-1);
      });
    this.side.add(p);
  }

  private async publishWithRetry(subject: string, body: Uint8Array | string, headers: Record<string, string>): Promise<void> {
    const fitted = fitPayload(body, this.env.maxPayload);
    const data = fitted.data;
    headers = { ...headers, ...fitted.headers };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.env.publisher.publish(subject, data, { headers });
        return;
      } catch (err) {
        if (attempt >= SIDE_OUTPUT_ATTEMPTS || this.closed) throw err;
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }

  private enqueueCheckpoint(e: CheckpointEffect): void {
    const sideBefore = [...this.side];
    this.track(1);
    this.tail = this.tail.then(async () => {
      try {
        await Promise.all(sideBefore);
        if (this.failure || this.closed) return;
        const began = performance.now();
        try {
          await this.env.store.commit(this.env.lease, e.seq, e.snapshot);
          this.env.onCheckpoint(e.seq, true, e.snapshot.byteLength, performance.now() - began);
        } catch (err) {
          if (isShardflowError(err, 'PARTITION_FENCED')) throw err;
          // Not fatal: the next checkpoint covers the same stretch again.
          this.env.log.warn({ err: truncateForLog(describeError(err), 300), seq: e.seq }, 'checkpoint not stored; the next one covers it');
          this.env.onCheckpoint(e.seq, false, e.snapshot.byteLength, performance.now() - began);
        }
      } catch (err) {
        this.fail(err);
      } finally {
        this.track(-1);
      }
    });
  }
}
