// Every subject, stream and bucket name of the project is built here, never spelled inline.

/** Job names become parts of subjects and bucket names: lowercase letters, digits and dashes. */
export const JOB_NAME_PATTERN = /^[a-z][a-z0-9-]{0,47}$/;

/** Where any producer publishes a job's raw JSON events (routed to partitions by a worker). */
export function ingestSubject(job: string): string {
  return `shardflow.ingest.${job}`;
}

/** Stream of raw events published to the ingest subject. */
export function ingestStream(job: string): string {
  return `shardflow-${job}-ingest`;
}

/** A partition of a job: the unit of input order, state, ownership and checkpoints. */
export interface PartitionId {
  readonly job: string;
  readonly index: number;
}

/** A router shard of a job: reads the ingest stream and routes plain clients' events to the
 *  partitions whose index modulo the job's router count is its number. */
export interface RouterId {
  readonly job: string;
  readonly router: number;
}

/** Anything that holds a lease and a checkpoint in the checkpoints bucket. */
export type CheckpointedId = PartitionId | RouterId;

export function partitionId(job: string, index: number): PartitionId {
  return { job, index };
}

export function isRouterId(id: CheckpointedId): id is RouterId {
  return 'router' in id;
}

/** "job/3": how partitions appear in heartbeats, the assignment record, logs and status. */
export function formatPartitionId(id: PartitionId): string {
  return `${id.job}/${id.index}`;
}

/** The inverse of formatPartitionId; undefined for anything else. */
export function parsePartitionId(text: string): PartitionId | undefined {
  const slash = text.lastIndexOf('/');
  const job = text.slice(0, slash);
  const index = text.slice(slash + 1);
  return slash > 0 && JOB_NAME_PATTERN.test(job) && /^\d{1,4}$/.test(index) ? { job, index: Number(index) } : undefined;
}

/** For logs and errors: "job/3" or "job/router-1". */
export function describeCheckpointed(id: CheckpointedId): string {
  return isRouterId(id) ? `${id.job}/router-${id.router}` : formatPartitionId(id);
}

/**
 * The partitioned input: one stream per job, four subjects per partition, read in order by one
 * consumer filtered on `shardflow.in.<job>.<p>.*`:
 * - `.event`: one raw event from a producer that knows the partition;
 * - `.batch`: several raw events from such a producer (JobProducer, `shardflow produce`), packed as
 *   common/event-batch.ts says;
 * - `.routed`: a batch of plain clients' events, routed here from the ingest subject by a worker;
 * - `.marker`: a watermark marker a worker writes into an idle partition.
 * Separate subjects let permissions tell them apart (producers may write `.event` and `.batch` only)
 * and readers know a batch without decoding headers.
 */
export function inputStream(job: string): string {
  return `shardflow-${job}-in`;
}

export type InputKind = 'event' | 'batch' | 'routed' | 'marker';

export function partitionSubject(id: PartitionId, kind: InputKind = 'event'): string {
  return `shardflow.in.${id.job}.${id.index}.${kind}`;
}

/** The filter of one partition's feed: all three kinds, in stream order. */
export function partitionSubjects(id: PartitionId): string {
  return `shardflow.in.${id.job}.${id.index}.*`;
}

export function inputSubjects(job: string): string {
  return `shardflow.in.${job}.*.*`;
}

/** The partition and kind of a message of the input stream, from its subject; undefined for another subject. */
export function parseInputSubject(job: string, subject: string): { partition: number; kind: InputKind } | undefined {
  const prefix = `shardflow.in.${job}.`;
  if (!subject.startsWith(prefix)) return undefined;
  const match = /^(\d+)\.(event|batch|routed|marker)$/.exec(subject.slice(prefix.length));
  return match ? { partition: Number(match[1]), kind: match[2] as InputKind } : undefined;
}

/**
 * Dead letters: one subject per event position, one message per subject, so a replay overwrites
 * instead of adding. `source` is the partition that read the event, or `i` for the ingest routers
 * (events of plain clients that could not be routed); `seq.index` is the message's stream sequence
 * and the event's place in it (0 unless the message is a batch). Results a sink refused go under
 * `<partition>.r.<digest of the row's identity>`.
 */
export function deadLetterStream(job: string): string {
  return `shardflow-${job}-dlq`;
}

export const INGEST_SOURCE = 'i';

export function deadLetterSubject(job: string, source: number | typeof INGEST_SOURCE, seq: number, index: number): string {
  return `shardflow.dlq.${job}.${source}.${seq}.${index}`;
}

export function rejectedRowSubject(job: string, partition: number, digest: string): string {
  return `shardflow.dlq.${job}.${partition}.r.${digest}`;
}

export function deadLetterSubjects(job: string): string {
  return `shardflow.dlq.${job}.>`;
}

/** Late events (the side output of the window operators), keyed by event position like dead letters. */
export function lateStream(job: string): string {
  return `shardflow-${job}-late`;
}

export function lateSubject(job: string, partition: number, seq: number, index: number): string {
  return `shardflow.late.${job}.${partition}.${seq}.${index}`;
}

export function lateSubjects(job: string): string {
  return `shardflow.late.${job}.>`;
}

/** KV bucket of a job's results (the embedded default sink). */
export function resultsBucket(job: string): string {
  return `shardflow-results-${job}`;
}

/** KV bucket of every partition's checkpoints and ownership epochs. */
export const CHECKPOINTS_BUCKET = 'shardflow-checkpoints';

export function checkpointKey(id: CheckpointedId): string {
  return isRouterId(id) ? `${id.job}.r${id.router}` : `${id.job}.p${id.index}`;
}

/** Keys of a checkpoint's snapshot chunks: under the owner's epoch and one of two slots, so that a
 *  writer overwrites its own previous snapshot but never one of another epoch's owner. */
export function checkpointChunkKey(id: CheckpointedId, epoch: number, slot: number, index: number): string {
  return `${checkpointKey(id)}.e${epoch}s${slot}.${index}`;
}

/** Every chunk key of a partition, whatever the epoch: for collecting the leftovers of old owners. */
export function checkpointChunkKeys(id: CheckpointedId): string {
  return `${checkpointKey(id)}.*.*`;
}

/** The epoch and slot in a chunk key made by checkpointChunkKey. */
export function parseCheckpointChunkKey(key: string): { epoch: number; slot: number; index: number } | undefined {
  const match = /\.e(\d+)s(\d)\.(\d+)$/.exec(key);
  return match ? { epoch: Number(match[1]), slot: Number(match[2]), index: Number(match[3]) } : undefined;
}

/** Headers of control messages in a partition (watermark markers) and of side-output messages. */
export const HEADERS = {
  /** On a marker: its watermark, epoch ms. On a late event: the watermark it was late for. */
  watermark: 'Shardflow-Watermark',
  /** On a routed message: the ingest sequence of its last event (routers resume after it). */
  ingestSeq: 'Shardflow-Ingest-Seq',
  reason: 'Shardflow-Reason',
  message: 'Shardflow-Message',
  sourceSeq: 'Shardflow-Source-Seq',
  sourceIndex: 'Shardflow-Source-Index',
  partition: 'Shardflow-Partition',
} as const;

/** KV bucket of the control plane: the leader record, the assignment, heartbeats. */
export const COORDINATION_BUCKET = 'shardflow-coordination';
export const LEADER_KEY = 'leader';
export const ASSIGNMENT_KEY = 'assignment';
/** The leader's autoscaling decision (coordinator/protocol.ts AutoscaleRecord). */
export const AUTOSCALE_KEY = 'autoscale';

export function workerKey(id: string): string {
  return `workers.${id}`;
}

export function coordinatorKey(id: string): string {
  return `coordinators.${id}`;
}

/** Requests to a running `shardflow up` (scale, kill, down): core NATS request/reply. */
export const LOCAL_CONTROL_SUBJECT = 'shardflow.local.control';

/** Folder of a job's Parquet files (and their manifest) under the lake's root folder. */
export function lakeJobFolder(job: string): string {
  return job;
}

/** Manifest of a job's lake folder; the leading underscore makes Spark and Hive readers skip it. */
export const LAKE_MANIFEST_FILE = '_manifest.json';

/** Lock file held by the one compaction of a job that may run at a time. */
export const LAKE_LOCK_FILE = '_compact.lock';
