// What a source checkpoints: where it is in its input, the dedupe keys it published last, and (for
// HTTP polls) the records of a fetched page not yet known to be published. Stored as the snapshot of
// the source's checkpoint entry (msgpack), so it is fenced like a partition's. Pure.
import { pack, unpack } from 'msgpackr';
import { ShardflowError } from '../common/errors.ts';

/** A record accepted from a response, as it will be published: its dedupe key and event JSON. */
export interface PendingRecord {
  readonly key: string;
  readonly event: string;
}

export interface SourcePosition {
  readonly version: 1;
  /** Events published and acknowledged so far (the checkpoint's sequence). */
  records: number;
  /** Dedupe keys published most recently, oldest first (see SeenKeys). */
  seen: string[];
  /** HTTP: the next page of the poll under way, or null between polls. */
  page: number | null;
  /** HTTP: epoch ms the current poll began (keys of records without ids of their own derive from it). */
  pollStartedAt: number;
  /** HTTP: epoch ms the next poll is due. */
  nextPollAt: number;
  /** HTTP: validators of the last first page (conditional requests). */
  etag?: string;
  lastModified?: string;
  /** HTTP: records of the last fetched page, written before they are published (write-ahead): a
   *  source resumed after a crash publishes exactly these again, under the same message ids. */
  pending: PendingRecord[];
  /** SSE: the id of the last event whose publication is acknowledged (sent as Last-Event-ID). */
  lastEventId?: string;
  /** Why the last attempt failed, if it did (for status). */
  lastError?: string;
}

export function initialPosition(): SourcePosition {
  return { version: 1, records: 0, seen: [], page: null, pollStartedAt: 0, nextPollAt: 0, pending: [] };
}

export function encodePosition(position: SourcePosition): Uint8Array {
  return pack(position);
}

export function decodePosition(bytes: Uint8Array | null): SourcePosition {
  if (bytes === null) return initialPosition();
  const value = unpack(bytes) as Partial<SourcePosition> | null;
  if (!value || value.version !== 1 || !Array.isArray(value.seen) || !Array.isArray(value.pending) || typeof value.records !== 'number') {
    throw new ShardflowError('CHECKPOINT_CORRUPT', 'the checkpoint of a source is not a source position (version 1)');
  }
  return value as SourcePosition;
}

/** One line for `status`: where the source is. */
export function describePosition(kind: 'http-poll' | 'sse', p: SourcePosition): string {
  if (kind === 'sse') return p.lastEventId === undefined ? 'from the start' : `after event ${truncate(p.lastEventId, 160)}`;
  const validators = [p.etag ? `etag ${truncate(p.etag, 60)}` : '', p.lastModified ? `modified ${p.lastModified}` : ''].filter(Boolean).join(', ');
  const where = p.page === null ? `next poll at ${new Date(p.nextPollAt || Date.now()).toISOString()}` : `page ${p.page} of the poll of ${new Date(p.pollStartedAt).toISOString()}`;
  return [where, p.pending.length > 0 ? `${p.pending.length} records to publish` : '', validators].filter(Boolean).join('; ');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
