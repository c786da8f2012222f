// Creates (idempotently) the streams and buckets a job needs: the partitioned input, the ingest
// stream, the dead-letter and late side outputs, the results bucket and the checkpoints bucket.
import type { JetStreamManager } from '@nats-io/jetstream';
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

export interface TopologyOptions {
  /** Stream and bucket replicas: 1 on a single server, 3 on a 3-node cluster. */
  replicas: number;
}

const MINUTE_NS = 60_000_000_000;

export async function ensureJobTopology(nc: NatsConnection, jsm: JetStreamManager, job: string, options: TopologyOptions): Promise<void> {
  const num_replicas = options.replicas;
  await ensureStream(jsm, {
    name: inputStream(job),
    subjects: [inputSubjects(job)],
    num_replicas,
    // Producer retries within this window are stored once (message ids).
    duplicate_window: 2 * MINUTE_NS,
  });
  await ensureStream(jsm, { name: ingestStream(job), subjects: [ingestSubject(job)], num_replicas, duplicate_window: 2 * MINUTE_NS });
  await ensureStream(jsm, { name: deadLetterStream(job), subjects: [deadLetterSubjects(job)], num_replicas, max_msgs_per_subject: 1 });
  await ensureStream(jsm, { name: lateStream(job), subjects: [lateSubjects(job)], num_replicas, max_msgs_per_subject: 1 });
  await openBucket(nc, resultsBucket(job), num_replicas);
  await openBucket(nc, CHECKPOINTS_BUCKET, num_replicas);
}

type StreamSettings = { name: string; subjects: string[]; num_replicas: number; duplicate_window?: number; max_msgs_per_subject?: number };

async function ensureStream(jsm: JetStreamManager, cfg: StreamSettings): Promise<void> {
  try {
    await jsm.streams.info(cfg.name);
  } catch {
    try {
      await jsm.streams.add(cfg);
    } catch (err) {
      // Another process created it at the same moment.
      await jsm.streams.info(cfg.name).catch(() => {
        throw err;
      });
    }
  }
}

/**
 * Opens (creating when missing) one of shardflow's buckets. Reads go through the stream leader, not
 * "direct" to any replica: a replica that has just restarted answers direct gets with values it has
 * not caught up on yet, and a stale checkpoint entry or assignment would make a worker believe it was
 * fenced, or a coordinator act on an old view.
 */
export async function openBucket(nc: NatsConnection, name: string, replicas: number): Promise<KV> {
  return new Kvm(nc).create(name, { history: 1, replicas, allow_direct: false });
}
