// The cluster as the coordination bucket shows it: leader, coordinators, workers, who owns which
// partition and its lag; and, from JetStream, how full each of shardflow's streams and buckets is.
// Read by `shardflow status`, the chaos monitor and anything else that watches the control plane;
// `--json` prints this shape as it is (a stable shape scripts rely on).
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Config } from '../common/config.ts';
import { ASSIGNMENT_KEY, AUTOSCALE_KEY, COORDINATION_BUCKET, coordinatorKey, workerKey } from '../common/names.ts';
import { openBucket } from '../nats/topology.ts';
import { readLeaderStored, type AssignmentRecord, type AutoscaleRecord, type CoordinatorHeartbeat, type WorkerHeartbeat } from './protocol.ts';
import { connectNats, type NatsAccess } from '../nats/connect.ts';
import { parseJobRecord, parsePauseRecord, type JobRecord, type PauseRecord } from './job-registry.ts';

export interface ClusterStatus {
  leader: { id: string; term: number; lease_age_ms: number } | null;
  coordinators: { id: string; role: string; alive: boolean; metrics_port: number; term: number; last_heartbeat_ms: number }[];
  workers: {
    id: string;
    alive: boolean;
    partitions: number;
    last_heartbeat_ms: number;
    metrics_port: number;
    host: string | null;
    pid: number | null;
    rss_bytes: number | null;
    /** Near its memory limit: takes no new partitions. */
    full: boolean;
  }[];
  partitions: PartitionStatus[];
  /** Each job's live sources (sources/): who runs it, where it is, events it stored, its last error
   *  (position, records and last_error as its owner last reported them; null without a live owner). */
  sources: { job: string; source: string; owner: string | null; position: string | null; records: number | null; last_error: string | null }[];
  /** Jobs registered by their workers (coordinator/job-registry.ts), with whether they are paused. */
  jobs: (JobRecord & { paused: boolean; paused_by: string | null })[];
  /** The assignment in force: its leader's term and its version (grows with every rebalance). */
  assignment: { term: number; version: number } | null;
  /** Filled by readStatus; left out by statusOver, which pollers call many times a second. */
  storage?: ClusterStorage;
  /** The leader's last autoscaling decision, when the cluster autoscales. */
  autoscale?: AutoscaleRecord;
}

export interface PartitionStatus {
  job: string;
  partition: number;
  owner: string | null;
  lag: number | null;
  /** As its owner announces them (null while it has no owner or has not said): events processed
   *  since it started on that owner, watermark (epoch ms), when its latest checkpoint was stored
   *  (epoch ms) and its size, actor restarts, keys and open windows in its state. */
  events: number | null;
  watermark: number | null;
  checkpoint_at: number | null;
  checkpoint_bytes: number | null;
  restarts: number | null;
  keys: number | null;
  windows: number | null;
}

/** One stream or KV bucket (`KV_<bucket>`) of shardflow. Limits as JetStream states them: max_bytes
 *  and max_msgs -1 and max_age_ms 0 mean none. */
export interface StreamStorage {
  stream: string;
  bytes: number;
  messages: number;
  max_bytes: number;
  max_age_ms: number;
  max_msgs: number;
}

/** The JetStream account of the connection, all its streams (shardflow's or not) together. */
export interface AccountStorage {
  /** Bytes stored in file-backed streams. */
  storage_bytes: number;
  /** The account's own limit, -1 when it has none: then only the server's max_file_store bounds it,
   *  which nats-server 2.9 does not tell clients. */
  max_storage_bytes: number;
  /** The max_bytes of every file-backed stream added up: JetStream holds this much of max_file_store
   *  for them, and refuses a new stream whose max_bytes does not fit in what is left. */
  reserved_bytes: number;
}

export interface ClusterStorage {
  streams: StreamStorage[];
  account: AccountStorage;
}

/** The status of the cluster at `nats` (a URL, or a URL with credentials). */
export async function readStatus(nats: NatsAccess | string, config: Config): Promise<ClusterStatus> {
  const nc = await connectNats(typeof nats === 'string' ? { servers: nats } : nats, { name: `status-${process.pid}` });
  try {
    return { ...(await statusOver(nc, config)), storage: await storageOver(nc) };
  } finally {
    await nc.close();
  }
}

/** The status read over an open connection (for callers that poll it). */
export async function statusOver(nc: NatsConnection, config: Pick<Config, 'REPLICAS' | 'LEADER_LEASE_MS' | 'WORKER_TIMEOUT_MS'>): Promise<ClusterStatus> {
  const kv = await openBucket(nc, COORDINATION_BUCKET, config.REPLICAS);
  const now = Date.now();
  // Ages are judged by the server's stamps (created), not the writers' clocks, which may be skewed.
  const stored = await readLeaderStored(kv);
  const leader = stored?.record ?? null;
  const storedAt = new Map<string, number>();
  // By id: a key listing taken while a stream fails over can name a key twice.
  const coordinatorsById = new Map<string, CoordinatorHeartbeat>();
  const workersById = new Map<string, WorkerHeartbeat>();
  // Every record of the bucket in one walk: heartbeats, registered jobs, paused jobs.
  const registered = new Map<string, JobRecord>();
  const paused = new Map<string, PauseRecord>();
  for await (const key of await kv.keys()) {
    const e = await kv.get(key);
    if (e?.operation !== 'PUT') continue;
    if (key.startsWith('coordinators.')) coordinatorsById.set(key, e.json() as CoordinatorHeartbeat);
    if (key.startsWith('workers.')) workersById.set(key, e.json() as WorkerHeartbeat);
    if (key.startsWith('paused.')) paused.set(key.slice('paused.'.length), parsePauseRecord(e.string()));
    if (key.startsWith('jobs.')) {
      const record = parseJobRecord(e.string());
      if (record) registered.set(record.name, record);
    }
    storedAt.set(key, e.created.getTime());
  }
  const coordinators = [...coordinatorsById.values()];
  const workers = [...workersById.values()];
  const assignmentEntry = await kv.get(ASSIGNMENT_KEY);
  const autoscaleEntry = await kv.get(AUTOSCALE_KEY);
  const autoscale = autoscaleEntry?.operation === 'PUT' ? (autoscaleEntry.json() as AutoscaleRecord) : undefined;
  const assignment = assignmentEntry?.operation === 'PUT' ? (assignmentEntry.json() as AssignmentRecord) : null;
  const lease = config.LEADER_LEASE_MS;
  const timeout = config.WORKER_TIMEOUT_MS;
  const leaderAlive = stored !== null && now - stored.storedAt < lease;
  const ageOf = (key: string, at: number) => Math.max(0, now - (storedAt.get(key) ?? at));
  const byId = new Map(workers.map((w) => [w.id, w]));
  const partition = (job: string, index: number, owner: string | null): PartitionStatus => {
    const hb = owner ? byId.get(owner) : undefined;
    const name = `${job}/${index}`;
    const st = hb?.stats?.[name];
    return {
      job,
      partition: index,
      owner,
      lag: hb?.lag[name] ?? null,
      events: st?.events ?? null,
      watermark: st?.watermark ?? null,
      checkpoint_at: st?.checkpointAt ?? null,
      checkpoint_bytes: st ? st.checkpointBytes : null,
      restarts: st?.restarts ?? null,
      keys: st?.keys ?? null,
      windows: st?.windows ?? null,
    };
  };
  return {
    leader: leader && leaderAlive ? { id: leader.id, term: leader.term, lease_age_ms: Math.max(0, now - leader.renewedAt) } : null,
    coordinators: coordinators
      .map((c) => ({ id: c.id, role: c.role, alive: ageOf(coordinatorKey(c.id), c.at) < lease, metrics_port: c.metricsPort, term: c.term, last_heartbeat_ms: ageOf(coordinatorKey(c.id), c.at) }))
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
    workers: workers
      .map((w) => ({
        id: w.id,
        alive: ageOf(workerKey(w.id), w.at) < timeout,
        partitions: w.owned.length,
        last_heartbeat_ms: ageOf(workerKey(w.id), w.at),
        metrics_port: w.metricsPort,
        host: w.host ?? null,
        pid: w.pid ?? null,
        rss_bytes: w.rssBytes ?? null,
        full: w.full === true,
      }))
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
    partitions: Object.entries(assignment?.owners ?? {})
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .flatMap(([job, owners]) => owners.map((owner, index) => partition(job, index, owner))),
    sources: Object.entries(assignment?.sources ?? {})
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([id, owner]) => {
        const [job = id, source = ''] = id.split('/');
        const reported = owner ? workers.find((w) => w.id === owner && ageOf(workerKey(w.id), w.at) < timeout)?.sources?.[id] : undefined;
        return { job, source, owner, position: reported?.position ?? null, records: reported?.records ?? null, last_error: reported?.lastError ?? null };
      }),
    jobs: [...registered.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((j) => ({ ...j, paused: paused.has(j.name), paused_by: paused.get(j.name)?.by ?? null })),
    assignment: assignment ? { term: assignment.term, version: assignment.version } : null,
    ...(autoscale ? { autoscale } : {}),
  };
}


/** Every stream name that common/names.ts builds starts with `shardflow-`; a bucket's stream is its
 *  name after `KV_`. */
const SHARDFLOW_STREAM = /^(KV_)?shardflow-/;

const NS_PER_MS = 1_000_000;

/** Size and limits of each of shardflow's streams and buckets, and the JetStream account's usage. */
export async function storageOver(nc: NatsConnection): Promise<ClusterStorage> {
  const jsm = await jetstreamManager(nc);
  const streams: StreamStorage[] = [];
  let reserved = 0;
  for await (const info of jsm.streams.list()) {
    const { config, state } = info;
    if (config.storage === 'file' && config.max_bytes > 0) reserved += config.max_bytes;
    if (!SHARDFLOW_STREAM.test(config.name)) continue;
    streams.push({
      stream: config.name,
      bytes: state.bytes,
      messages: state.messages,
      max_bytes: config.max_bytes,
      max_age_ms: Math.round(config.max_age / NS_PER_MS),
      max_msgs: config.max_msgs,
    });
  }
  const account = await jsm.getAccountInfo();
  return {
    streams: streams.sort((a, b) => (a.stream < b.stream ? -1 : 1)),
    account: { storage_bytes: account.storage, max_storage_bytes: account.limits.max_storage, reserved_bytes: reserved },
  };
}
