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

/** A source of a job (an HTTP poller, a server-sent events stream): run by one worker at a time,
 *  leased and checkpointed like a partition. Its name is unique within the job. */
export interface SourceUnitId {
  readonly job: string;
  readonly source: string;
}

/** Source names become parts of keys and subjects: as job names. */
export const SOURCE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,47}$/;

/** Anything that holds a lease and a checkpoint in the checkpoints bucket. */
export type CheckpointedId = PartitionId | RouterId | SourceUnitId;

export function isSourceUnitId(id: CheckpointedId): id is SourceUnitId {
  return 'source' in id;
}

/** "job/name": how sources appear in heartbeats, the assignment record, logs and status. */
export function formatSourceUnitId(id: SourceUnitId): string {
  return `${id.job}/${id.source}`;
}

/** The inverse of formatSourceUnitId; undefined for anything else (a partition's "job/3" included). */
export function parseSourceUnitId(text: string): SourceUnitId | undefined {
  const slash = text.indexOf('/');
  const job = text.slice(0, slash);
  const source = text.slice(slash + 1);
  return slash > 0 && JOB_NAME_PATTERN.test(job) && SOURCE_NAME_PATTERN.test(source) ? { job, source } : undefined;
}

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

/** For logs and errors: "job/3", "job/router-1" or "job/source-coincap". */
export function describeCheckpointed(id: CheckpointedId): string {
  if (isSourceUnitId(id)) return `${id.job}/source-${id.source}`;
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

/** Records a source could not turn into an event (not JSON, not an object, too large), one subject
 *  per record (`digest` of its dedupe key or bytes), so a source that re-reads it overwrites it. */
export function sourceDeadLetterSubject(job: string, source: string, digest: string): string {
  return `shardflow.dlq.${job}.s-${source}.${digest}`;
}

export function rejectedRowSubject(job: string, partition: number, digest: string): string {
  return `shardflow.dlq.${job}.${partition}.r.${digest}`;
}

export function deadLetterSubjects(job: string): string {
  return `shardflow.dlq.${job}.>`;
}

/** Who wrote a dead letter or late event, from its subject: the partition's number, `i` for the
 *  ingest routers, `s-<name>` for a source. */
export function sideOutputSource(subject: string): string {
  return subject.split('.')[3] ?? '?';
}

/** Whether a dead letter is a result row a sink refused (`<partition>.r.<digest>`), not an event. */
export function isRejectedRowSubject(subject: string): boolean {
  return subject.split('.')[4] === 'r';
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
  // "s-" cannot be mistaken for a partition's "p3" or a router's "r1".
  if (isSourceUnitId(id)) return `${id.job}.s-${id.source}`;
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
  /** On a source's dead letter: the source's name. */
  sourceName: 'Shardflow-Source-Name',
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

/** `jobs.<name>`: a running job's registration (what it is, where it was loaded from, its sink), so
 *  that `status`, `results` and the console find a user's job by name. */
export function jobKey(job: string): string {
  return `jobs.${job}`;
}

/** `paused.<name>`: present while a job is paused (the leader assigns its partitions to nobody). */
export function pausedKey(job: string): string {
  return `paused.${job}`;
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

/** KV bucket of the schema registry (schema/schema-registry.ts): schemas by global id, the versions of
 *  each subject, compatibility levels. Ids are never reused. */
export const SCHEMAS_BUCKET = 'shardflow-schemas';

/** The last schema id given out (compare-and-set on its revision allocates the next). */
export const SCHEMA_ID_COUNTER_KEY = 'ids.last';

export function schemaIdKey(id: number): string {
  return `ids.${id}`;
}

/** Which id a schema (by the SHA-256 of its normalized text) already has: one id per schema, whatever
 *  the subject, as Confluent's registry does. */
export function schemaFingerprintKey(sha256Hex: string): string {
  return `fingerprints.${sha256Hex}`;
}

/** Subjects may hold characters KV keys may not: their keys hold them base64url-encoded. */
export function subjectKey(subject: string): string {
  return `subjects.${Buffer.from(subject, 'utf8').toString('base64url')}`;
}

export const SUBJECT_KEYS = 'subjects.*';

export function subjectOfKey(key: string): string | undefined {
  return key.startsWith('subjects.') ? Buffer.from(key.slice('subjects.'.length), 'base64url').toString('utf8') : undefined;
}

/** The global compatibility level, or a subject's own. */
export function compatibilityKey(subject?: string): string {
  return subject === undefined ? 'config.global' : `config.subjects.${Buffer.from(subject, 'utf8').toString('base64url')}`;
}
