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

/** The partitioned input: one subject per partition in one stream. */
export function inputStream(job: string): string {
  return `shardflow-${job}-in`;
}

export function partitionSubject(job: string, partition: number): string {
  return `shardflow.in.${job}.${partition}`;
}

export function inputSubjects(job: string): string {
  return `shardflow.in.${job}.*`;
}

/** The partition of a message of the input stream, from its subject; undefined for another subject. */
export function partitionOfInputSubject(job: string, subject: string): number | undefined {
  const prefix = `shardflow.in.${job}.`;
  if (!subject.startsWith(prefix)) return undefined;
  const rest = subject.slice(prefix.length);
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

/** Dead letters: one subject per source position, one message per subject, so a replay overwrites. */
export function deadLetterStream(job: string): string {
  return `shardflow-${job}-dlq`;
}

export function deadLetterSubject(job: string, partition: number, seq: number): string {
  return `shardflow.dlq.${job}.${partition}.${seq}`;
}

export function deadLetterSubjects(job: string): string {
  return `shardflow.dlq.${job}.>`;
}

/** Late events (the side output of the window operators), keyed by source position like dead letters. */
export function lateStream(job: string): string {
  return `shardflow-${job}-late`;
}

export function lateSubject(job: string, partition: number, seq: number): string {
  return `shardflow.late.${job}.${partition}.${seq}`;
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

/** Partition number under which the ingest router of a job keeps its lease and position. */
export const ROUTER_PARTITION = -1;

export function checkpointKey(job: string, partition: number): string {
  return partition === ROUTER_PARTITION ? `${job}.router` : `${job}.p${partition}`;
}

export function checkpointChunkKey(job: string, partition: number, snapshotId: string, index: number): string {
  return `${job}.p${partition}.s${snapshotId}.${index}`;
}

export function checkpointChunkPrefix(job: string, partition: number): string {
  return `${job}.p${partition}.s`;
}

/** Headers of control messages in a partition (watermark markers) and of side-output messages. */
export const HEADERS = {
  control: 'Shardflow-Control',
  watermark: 'Shardflow-Watermark',
  reason: 'Shardflow-Reason',
  message: 'Shardflow-Message',
  sourceSeq: 'Shardflow-Source-Seq',
  partition: 'Shardflow-Partition',
} as const;

/** KV bucket of the control plane: the leader record, the assignment, heartbeats. */
export const COORDINATION_BUCKET = 'shardflow-coordination';
export const LEADER_KEY = 'leader';
export const ASSIGNMENT_KEY = 'assignment';

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
