// Where a source's records go: each event to its job's ingest subject, one message per event, with a
// message id derived from the record's dedupe key, so a record published twice (a retry, a source
// resumed after a crash of its worker) is stored once within the ingest stream's duplicate window.
// At most `maxInFlight` messages await their acknowledgement; `flush` waits for all of them and is
// what a checkpoint waits on. Records that cannot be events go to the job's dead-letter stream.
import { createHash } from 'node:crypto';
import { ShardflowError } from '../common/errors.ts';
import { cleanHeaderValue, truncateForLog } from '../common/header-value.ts';
import type { Logger } from '../common/logger.ts';
import { metrics } from '../common/metrics.ts';
import { HEADERS, ingestSubject, sourceDeadLetterSubject, type SourceUnitId } from '../common/names.ts';
import { RateLimitedLog } from '../common/rate-limited-log.ts';
import type { AsyncPublisher } from '../nats/async-publisher.ts';
import { fitPayload } from '../nats/message-size.ts';

/** Why a source dead-lettered a record. */
export const SOURCE_DEAD_LETTER_REASONS = ['malformed-json', 'not-an-object', 'oversized', 'source-map-failed'] as const;
export type SourceDeadLetterReason = (typeof SOURCE_DEAD_LETTER_REASONS)[number];

/** How long a failing publish is retried under its message id before the source restarts from its
 *  checkpoint: well inside the 2-minute duplicate window of the ingest stream. */
const PUBLISH_RETRY_MS = 20_000;

export class SourceOutput {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly subject: string;
  private readonly labels: { job: string; source: string };
  private readonly sideLog: RateLimitedLog;
  private failure: unknown;
  /** Events acknowledged since this output was made (stored now, or found stored by an earlier owner
   *  after the checkpoint this one resumed from). */
  acknowledged = 0;

  constructor(
    private readonly publisher: AsyncPublisher,
    private readonly id: SourceUnitId,
    private readonly maxInFlight: number,
    /** Largest message the server takes (an event beyond it is dead-lettered, not retried forever). */
    private readonly maxPayload: number,
    log: Logger,
  ) {
    this.subject = ingestSubject(id.job);
    this.labels = { job: id.job, source: id.source };
    this.sideLog = new RateLimitedLog(log);
  }

  /** The message id of a record: stable across workers and restarts. */
  messageId(key: string): string {
    return `src-${this.id.source}-${digest(key)}`;
  }

  /** Publishes one event; resolves when another may follow (not when this one is acknowledged). */
  async publish(key: string, event: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (Buffer.byteLength(event) > this.maxPayload - 16 * 1024) {
      await this.deadLetter('oversized', `the event is ${Buffer.byteLength(event)} bytes, more than the server takes (${this.maxPayload} less room for headers)`, event, key);
      return;
    }
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    const msgId = this.messageId(key);
    const done = this.publishRetrying(event, msgId)
      .then((ack) => {
        // A duplicate ack is a record published again after a resume (the previous owner stored it
        // after its last checkpoint): part of the source's count, which starts from that checkpoint.
        this.acknowledged++;
        if (!ack.duplicate) metrics.sourceRecords.inc(this.labels);
      })
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }

  /** Counts a record skipped because its dedupe key was published before. */
  duplicate(): void {
    metrics.sourceDuplicates.inc(this.labels);
  }

  /** Waits until every event handed over so far is acknowledged; throws if one could not be. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    if (this.failure) throw this.failure;
  }

  /** A record that cannot be an event: to the dead-letter stream, under a subject of its own (a
   *  source that reads it again overwrites it), with the reason; counted and logged (rate-limited). */
  async deadLetter(reason: SourceDeadLetterReason, message: string, raw: string, key: string): Promise<void> {
    metrics.sourceDeadLetters.inc({ ...this.labels, reason });
    this.sideLog.warn({ job: this.id.job, source: this.id.source, reason, detail: truncateForLog(message) }, 'source record dead-lettered');
    const fitted = fitPayload(raw, this.maxPayload);
    await this.publisher.publish(sourceDeadLetterSubject(this.id.job, this.id.source, digest(key)), fitted.data, {
      headers: { ...fitted.headers, [HEADERS.reason]: reason, [HEADERS.message]: cleanHeaderValue(message), [HEADERS.sourceName]: this.id.source },
    });
  }

  private async publishRetrying(event: string, msgId: string): Promise<{ duplicate: boolean }> {
    const deadline = Date.now() + PUBLISH_RETRY_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.publisher.publish(this.subject, event, { msgId });
      } catch (err) {
        if (Date.now() > deadline) throw new ShardflowError('PUBLISH_FAILED', `source ${this.id.job}/${this.id.source}: an event was not acknowledged within ${PUBLISH_RETRY_MS} ms`, { cause: err });
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
      }
    }
  }
}

/** 40 hex digits of SHA-256: a message id or subject token for any key, whatever its characters. */
function digest(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 40);
}
