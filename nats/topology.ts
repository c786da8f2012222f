// Creates (idempotently) the streams and buckets a job needs: the partitioned input, the ingest
// stream, the dead-letter and late side outputs, the results bucket and the checkpoints bucket. Every
// stream has a ceiling: its job's retention (age and bytes, oldest discarded first); an existing
// stream whose limits or subjects differ from the job's is updated to them.
import { DiscardPolicy, jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  CHECKPOINTS_BUCKET,
  deadLetterStream,
  deadLetterSubjects,
  ingestStream,
  ingestSubject,
  inputStream,
  inputSubjects,
  lateStream,
  lateSubjects,
  resultsBucket,
} from '../common/names.ts';
import { DEFAULT_RETENTION, type Job, type JobRetention, type StreamRetention } from '../jobs/define-job.ts';

export interface TopologyOptions {
  /** Stream and bucket replicas: 1 on a single server, 3 on a 3-node cluster. */
  replicas: number;
}

const MINUTE_NS = 60_000_000_000;
const NS_PER_MS = 1_000_000;

/** `job` by name gets the default retention and a results bucket without expiry. */
export async function ensureJobTopology(nc: NatsConnection, jsm: JetStreamManager, of: Job<unknown> | string, options: TopologyOptions): Promise<void> {
  const num_replicas = options.replicas;
  const job = typeof of === 'string' ? of : of.name;
  const retention: JobRetention = typeof of === 'string' ? DEFAULT_RETENTION : of.retention;
  const resultsTtlMs = typeof of !== 'string' && of.sink.type === 'kv' ? of.sink.ttl : undefined;
  // Producer retries within this window are stored once (message ids).
  await ensureStream(jsm, { name: inputStream(job), subjects: [inputSubjects(job)], num_replicas, duplicate_window: 2 * MINUTE_NS, ...limits(retention.input) });
  await ensureStream(jsm, { name: ingestStream(job), subjects: [ingestSubject(job)], num_replicas, duplicate_window: 2 * MINUTE_NS, ...limits(retention.ingest) });
  // One message per event position: a replay overwrites its own side outputs instead of adding to them.
  await ensureStream(jsm, { name: deadLetterStream(job), subjects: [deadLetterSubjects(job)], num_replicas, max_msgs_per_subject: 1, ...limits(retention.deadLetters) });
  await ensureStream(jsm, { name: lateStream(job), subjects: [lateSubjects(job)], num_replicas, max_msgs_per_subject: 1, ...limits(retention.late) });
  await openBucket(nc, resultsBucket(job), num_replicas, { ttlMs: resultsTtlMs });
  await openBucket(nc, CHECKPOINTS_BUCKET, num_replicas);
}

function limits(r: StreamRetention): Pick<StreamConfig, 'max_age' | 'max_bytes' | 'discard'> {
  return { max_age: r.maxAge * NS_PER_MS, max_bytes: r.maxBytes, discard: DiscardPolicy.Old };
}

type StreamSettings = Pick<StreamConfig, 'name' | 'subjects' | 'num_replicas'> & Partial<Pick<StreamConfig, 'duplicate_window' | 'max_msgs_per_subject' | 'max_age' | 'max_bytes' | 'discard'>>;

/** The settings that ensureStream keeps in line with the job (replicas are set at creation only). */
const MANAGED = ['subjects', 'duplicate_window', 'max_msgs_per_subject', 'max_age', 'max_bytes', 'discard'] as const;

async function ensureStream(jsm: JetStreamManager, cfg: StreamSettings): Promise<void> {
  let current: StreamConfig | undefined;
  try {
    current = (await jsm.streams.info(cfg.name)).config;
  } catch {
    try {
      await jsm.streams.add(cfg);
      return;
    } catch (err) {
      // Another process created it at the same moment.
      current = (
        await jsm.streams.info(cfg.name).catch(() => {
          throw err;
        })
      ).config;
    }
  }
  const differs = MANAGED.some((k) => cfg[k] !== undefined && JSON.stringify(cfg[k]) !== JSON.stringify(current![k]));
  if (differs) await jsm.streams.update(cfg.name, { ...current, ...cfg });
}

/**
 * Opens (creating when missing) one of shardflow's buckets. Reads go through the stream leader, not
 * "direct" to any replica: a replica that has just restarted answers direct gets with values it has
 * not caught up on yet, and a stale checkpoint entry or assignment would make a worker believe it was
 * fenced, or a coordinator act on an old view. A `ttlMs` (results buckets) is applied to an existing
 * bucket too.
 */
export async function openBucket(nc: NatsConnection, name: string, replicas: number, options: { ttlMs?: number } = {}): Promise<KV> {
  const kv = await new Kvm(nc).create(name, { history: 1, replicas, allow_direct: false, ...(options.ttlMs ? { ttl: options.ttlMs } : {}) });
  if (options.ttlMs !== undefined) {
    const jsm = await jetstreamManager(nc);
    const stream = `KV_${name}`;
    const config = (await jsm.streams.info(stream)).config;
    if (config.max_age !== options.ttlMs * NS_PER_MS) await jsm.streams.update(stream, { ...config, max_age: options.ttlMs * NS_PER_MS });
  }
  return kv;
}
