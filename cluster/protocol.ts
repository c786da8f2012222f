// Messages between the parts of a worker, as data. Each says who sends it and who answers.
import type { ReplyTo } from '../actors/index.ts';
import type { InputRecord } from '../task/effects.ts';
import type { IngestRecord } from '../task/routing.ts';
import type { FeedBatch } from './partition-feed.ts';

/** What a partition reports after a checkpoint. */
export interface CheckpointReport {
  job: string;
  partition: number;
  /** Last stream sequence the checkpoint covers. */
  seq: number;
  bytes: number;
  ms: number;
}

export type PartitionMessage =
  /** From the partition's feed: the next messages of the partition, in order. No reply. */
  | { type: 'batch'; generation: number; batch: FeedBatch<InputRecord> }
  /** From the worker's timer: checkpoints, lease and stall checks, idleness. No reply. */
  | { type: 'tick' }
  /** From the worker on graceful shutdown or hand-off: flush, checkpoint and (if `release`) give the
   *  partition up. Replies with the checkpoint taken. */
  | { type: 'checkpoint'; release: boolean; replyTo: ReplyTo<CheckpointReport> }
  /** From the feed: reading the partition failed; the actor fails and recovers from its
   *  checkpoint. No reply. */
  | { type: 'feed-failed'; generation: number; error: unknown };

export type RouterMessage =
  /** From the router's feed: the next messages of the ingest stream, in order. No reply. */
  | { type: 'batch'; generation: number; batch: FeedBatch<IngestRecord> }
  /** From the worker's timer: record the position, check the lease. No reply. */
  | { type: 'tick' }
  /** From the worker on graceful shutdown or hand-off: record the position and give the router up.
   *  Replies with the position recorded. */
  | { type: 'checkpoint'; release: boolean; replyTo: ReplyTo<number> }
  /** From the feed: reading failed; the router fails and resumes from its position. */
  | { type: 'feed-failed'; generation: number; error: unknown };

/** From a partition actor to its worker, after each batch, tick and checkpoint: what changed of the
 *  partition's figures (the worker keeps the totals and announces them in its heartbeat). */
export interface PartitionStatsUpdate {
  /** Unprocessed messages in the partition. */
  lag?: number;
  /** Events that reached the window operators since the last update (added up by the worker). */
  processed?: number;
  /** Event-time watermark, epoch ms; null before the first event. */
  watermark?: number | null;
  keys?: number;
  windows?: number;
  /** When the latest checkpoint was stored (epoch ms) and its size. */
  checkpointAt?: number;
  checkpointBytes?: number;
}
