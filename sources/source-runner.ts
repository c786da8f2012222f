// Runs one source on this worker while it holds the source's lease: claims it (a new epoch, fencing
// the previous owner), restores its position from the checkpoint, and runs its loop. A loop that
// fails is started again from the latest checkpoint after a backoff, under the same lease (a
// supervisor's restart); a loop that finds itself fenced stops for good and tells the worker. On
// release it stops the loop, waits for what was published, checkpoints and gives the lease up, so
// the next owner starts at once.
import { isShardflowError } from '../common/errors.ts';
import { truncateForLog } from '../common/header-value.ts';
import type { Logger } from '../common/logger.ts';
import { metrics } from '../common/metrics.ts';
import type { SourceUnitId } from '../common/names.ts';
import type { KvCheckpointStore, PartitionLease } from '../cluster/checkpoint-store.ts';
import type { AsyncPublisher } from '../nats/async-publisher.ts';
import { backoffDelay } from './backoff.ts';
import { runHttpPoll } from './http-poll-source.ts';
import type { RequestOutcome, SourceContext } from './source-context.ts';
import { SOURCE_DEAD_LETTER_REASONS, SourceOutput } from './source-output.ts';
import { decodePosition, describePosition, encodePosition, type SourcePosition } from './source-position.ts';
import type { SourceSpec } from './source-spec.ts';
import { runSse } from './sse-source.ts';

export interface SourceRunnerEnv {
  readonly store: KvCheckpointStore;
  readonly publisher: AsyncPublisher;
  readonly workerId: string;
  readonly maxPayload: number;
  readonly log: Logger;
  /** The source stopped by itself: another worker took it over (fenced). */
  onFenced(id: SourceUnitId): void;
}

/** What `status` shows of a source, carried in its worker's heartbeat. */
export interface SourceStats {
  /** Events this source has stored in its job, over its whole life (from the checkpoint). */
  records: number;
  position: string;
  lastError: string | null;
}

export class SourceRunner {
  private readonly stopSignal = new AbortController();
  private lease: PartitionLease | undefined;
  private position: SourcePosition | undefined;
  private output: SourceOutput | undefined;
  private baseRecords = 0;
  private lastError: string | null = null;
  private running: Promise<void> | undefined;
  private fenced = false;
  private readonly log: Logger;

  constructor(
    readonly id: SourceUnitId,
    private readonly spec: SourceSpec,
    private readonly env: SourceRunnerEnv,
  ) {
    this.log = env.log.child({ job: id.job, source: id.source });
    // Series exist at 0 from the start: dashboards show "nothing yet", not "no data".
    const labels = { job: id.job, source: id.source };
    metrics.sourceRecords.inc(labels, 0);
    metrics.sourceDuplicates.inc(labels, 0);
    for (const reason of SOURCE_DEAD_LETTER_REASONS) metrics.sourceDeadLetters.inc({ ...labels, reason }, 0);
  }

  start(): void {
    this.running ??= this.supervise();
  }

  stats(): SourceStats {
    const p = this.position;
    // Cut to what the coordinator accepts in a heartbeat (coordinator/protocol.ts): a longer error
    // must not make the whole heartbeat, and so the worker, look invalid.
    return { records: this.baseRecords + (this.output?.acknowledged ?? 0), position: truncateForLog(p ? describePosition(this.spec.kind, p) : 'starting', 300), lastError: this.lastError === null ? null : truncateForLog(this.lastError, 300) };
  }

  /** Stops the loop; with `release`, checkpoints what was published and gives the lease up. */
  async stop(release: boolean): Promise<void> {
    this.stopSignal.abort();
    await this.running;
    if (release && this.lease && !this.fenced) {
      try {
        await this.env.store.release(this.lease);
        this.log.info({ records: this.stats().records }, 'source released');
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'source not released; the next owner resumes from its last checkpoint');
      }
    }
  }

  private async supervise(): Promise<void> {
    for (let failures = 0; !this.stopSignal.signal.aborted; ) {
      try {
        await this.runOnce();
        return;
      } catch (err) {
        if (isShardflowError(err, 'PARTITION_FENCED')) {
          this.fenced = true;
          metrics.fenced.inc({ job: this.id.job });
          this.log.warn({ err: (err as Error).message }, 'source taken over by another worker: stopped');
          this.env.onFenced(this.id);
          return;
        }
        if (this.stopSignal.signal.aborted) return;
        failures++;
        this.lastError = (err as Error).message;
        const delay = backoffDelay(this.spec, failures, undefined, Math.random());
        this.log.warn({ err: this.lastError, failures, retryInMs: delay }, 'source failed; restarting it from its checkpoint');
        await sleep(delay, this.stopSignal.signal);
      }
    }
  }

  private async runOnce(): Promise<void> {
    let snapshot: Uint8Array | null;
    if (!this.lease) {
      const claimed = await this.env.store.claim(this.id, this.env.workerId);
      this.lease = claimed.lease;
      snapshot = claimed.checkpoint.snapshot;
      this.log.info({ epoch: this.lease.epoch, records: claimed.checkpoint.seq }, 'source claimed');
    } else {
      snapshot = (await this.env.store.resume(this.lease)).snapshot;
    }
    const position = decodePosition(snapshot);
    this.position = position;
    this.baseRecords = position.records;
    const output = new SourceOutput(this.env.publisher, this.id, this.spec.maxInFlight, this.env.maxPayload, this.log);
    this.output = output;
    const lease = this.lease;
    const ctx: SourceContext = {
      id: this.id,
      position,
      output,
      signal: this.stopSignal.signal,
      log: this.log,
      commit: async () => {
        position.records = this.baseRecords + output.acknowledged;
        position.lastError = this.lastError ?? undefined;
        await this.env.store.commit(lease, position.records, encodePosition(position));
      },
      sleep: (ms) => sleep(ms, this.stopSignal.signal),
      report: (outcome: RequestOutcome, error?: string) => {
        metrics.sourceRequests.inc({ job: this.id.job, source: this.id.source, outcome });
        if (error === undefined) {
          if (outcome === 'ok' || outcome === 'not-modified') this.lastError = null;
          return;
        }
        this.lastError = error;
        this.log.warn({ outcome, err: error }, 'source request failed; trying again after a backoff');
      },
      random: Math.random,
    };
    if (this.spec.kind === 'http-poll') await runHttpPoll(this.spec, ctx);
    else await runSse(this.spec, ctx);
    // The HTTP loop leaves on a stop with its write-ahead checkpoint as the last word; nothing more to
    // record. The SSE loop records its last acknowledged event itself.
    await output.flush().catch(() => {});
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
