// The protocol between a partition's pure task and the shell that runs it, as data. The shell turns
// messages of the partition's log into `InputRecord`s and hands them to the task (PartitionTask.step);
// the task answers with `Effect`s, in order, which the shell carries out (cluster/partition-outputs.ts).
// Ordering contract: a `checkpoint` effect covers everything before it; the shell stores it only once
// every earlier `write`, `dead-letter` and `late` effect is durable.
import type { DeadLetterReason } from '../jobs/event-decoder.ts';
import type { LateReason } from '../engine/records.ts';

/** Where an event sits in a partition's log: the message's stream sequence and the event's place in
 *  the message (0 unless the message is a batch). Side outputs are keyed by it, so replays overwrite. */
export interface EventPosition {
  readonly seq: number;
  readonly index: number;
}

/** One message of a partition's log, as the task needs it. From the shell's feed. */
export type InputRecord =
  /** Raw events: one (`.event` subject), or a batch (`.batch`, `.routed`). */
  | { readonly kind: 'events'; readonly seq: number; readonly ingestTime: number; readonly data: Uint8Array; readonly batch: boolean }
  /** A watermark marker a worker wrote into the idle partition (`.marker` subject). */
  | { readonly kind: 'marker'; readonly seq: number; readonly watermark: number };

/** A window result as sinks store it: one row per (job, key, window), the highest revision wins. */
export interface ResultRow {
  job: string;
  key: string;
  window_start: number;
  window_end: number;
  revision: number;
  [aggregate: string]: unknown;
}

/** An upsert of a result, or the delete of a result that no longer holds (a merged session). */
export type SinkWrite =
  | { op: 'upsert'; row: ResultRow }
  | { op: 'delete'; job: string; key: string; window_start: number; window_end: number; revision: number };

export type Effect =
  /** Results and retractions to write to the job's sink, in the order they were made. */
  | { readonly type: 'write'; readonly writes: SinkWrite[] }
  /** An event that cannot be processed, with its original bytes: to the dead-letter stream. */
  | { readonly type: 'dead-letter'; readonly position: EventPosition; readonly reason: DeadLetterReason; readonly message: string; readonly data: Uint8Array }
  /** An event that came after every window it belongs to had closed: to the late side output. */
  | {
      readonly type: 'late';
      readonly position: EventPosition;
      readonly reason: LateReason;
      readonly message: string;
      readonly key: string;
      readonly eventTime: number;
      readonly watermark: number;
      readonly value: unknown;
    }
  /** A snapshot of the state covering the log up to `seq`: to the checkpoint store, after every
   *  effect before it is durable. The shell answers with checkpointStored or checkpointFailed. */
  | { readonly type: 'checkpoint'; readonly seq: number; readonly snapshot: Uint8Array }
  /** The partition is idle: write a watermark marker into its log, provided nothing was appended
   *  after `afterSeq` (and the routers have nothing left for it). */
  | { readonly type: 'idle-marker'; readonly afterSeq: number; readonly watermark: number };

export type CheckpointEffect = Extract<Effect, { type: 'checkpoint' }>;
