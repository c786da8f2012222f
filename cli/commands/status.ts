// `shardflow status`: the cluster as the coordination bucket shows it. `--json` prints a stable shape
// that scripts rely on:
//   { "leader": {"id", "term"} | null,
//     "coordinators": [{"id", "role", "alive"}],
//     "workers": [{"id", "alive", "partitions", "last_heartbeat_ms"}],
//     "partitions": [{"job", "partition", "owner", "lag"}] }
import { openBucket } from '../../cluster/topology.ts';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Config } from '../../common/config.ts';
import { ASSIGNMENT_KEY, COORDINATION_BUCKET } from '../../common/names.ts';
import { readLeader, type AssignmentRecord, type CoordinatorHeartbeat, type WorkerHeartbeat } from '../../coordinator/protocol.ts';

export const STATUS_HELP = `Usage: shardflow status [--json]

Shows the leader and its term, the coordinators, every worker (alive, partitions, last heartbeat) and
every partition (owner, lag). --json prints it as one JSON object (a stable shape for scripts).`;

export interface ClusterStatus {
  leader: { id: string; term: number } | null;
  coordinators: { id: string; role: string; alive: boolean; metrics_port: number }[];
  workers: { id: string; alive: boolean; partitions: number; last_heartbeat_ms: number; metrics_port: number }[];
  partitions: { job: string; partition: number; owner: string | null; lag: number | null }[];
}

export async function readStatus(natsUrl: string, config: Config): Promise<ClusterStatus> {
  const nc = await connect({ servers: natsUrl.split(','), name: `status-${process.pid}` });
  try {
    return await statusOver(nc, config);
  } finally {
    await nc.close();
  }
}

/** The status read over an open connection (for callers that poll it). */
export async function statusOver(nc: NatsConnection, config: Pick<Config, 'REPLICAS' | 'LEADER_LEASE_MS' | 'WORKER_TIMEOUT_MS'>): Promise<ClusterStatus> {
  const kv = await openBucket(nc, COORDINATION_BUCKET, config.REPLICAS);
  const now = Date.now();
  const leader = await readLeader(kv);
  // By id: a key listing taken while a stream fails over can name a key twice.
  const coordinatorsById = new Map<string, CoordinatorHeartbeat>();
  const workersById = new Map<string, WorkerHeartbeat>();
  for await (const key of await kv.keys()) {
    const e = await kv.get(key);
    if (e?.operation !== 'PUT') continue;
    if (key.startsWith('coordinators.')) coordinatorsById.set(key, e.json() as CoordinatorHeartbeat);
    if (key.startsWith('workers.')) workersById.set(key, e.json() as WorkerHeartbeat);
  }
  const coordinators = [...coordinatorsById.values()];
  const workers = [...workersById.values()];
  const assignmentEntry = await kv.get(ASSIGNMENT_KEY);
  const assignment = assignmentEntry?.operation === 'PUT' ? (assignmentEntry.json() as AssignmentRecord) : null;
  const lease = config.LEADER_LEASE_MS;
  const timeout = config.WORKER_TIMEOUT_MS;
  const leaderAlive = leader !== null && now - leader.renewedAt < lease;
  const lagOf = new Map<string, number>();
  for (const w of workers) for (const [k, v] of Object.entries(w.lag)) lagOf.set(`${w.id} ${k}`, v);
  return {
    leader: leader && leaderAlive ? { id: leader.id, term: leader.term } : null,
    coordinators: coordinators
      .map((c) => ({ id: c.id, role: c.role, alive: now - c.at < lease, metrics_port: c.metricsPort }))
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
    workers: workers
      .map((w) => ({ id: w.id, alive: now - w.at < timeout, partitions: w.owned.length, last_heartbeat_ms: now - w.at, metrics_port: w.metricsPort }))
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
    partitions: Object.entries(assignment?.owners ?? {})
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .flatMap(([job, owners]) => owners.map((owner, partition) => ({ job, partition, owner, lag: owner ? (lagOf.get(`${owner} ${job}/${partition}`) ?? null) : null }))),
  };
}

export async function statusCommand(options: { json: boolean }, config: Config): Promise<number> {
  const s = await readStatus(config.NATS_URL, config);
  if (options.json) {
    process.stdout.write(JSON.stringify(s) + '\n');
    return 0;
  }
  const lines = [
    `leader        ${s.leader ? `${s.leader.id} (term ${s.leader.term})` : 'none'}`,
    `coordinators  ${s.coordinators.map((c) => `${c.id} ${c.alive ? c.role : 'dead'}`).join(', ') || 'none'}`,
    'workers:',
    ...s.workers.map((w) => `  ${w.id.padEnd(20)} ${w.alive ? 'alive' : 'DEAD '}  ${String(w.partitions).padStart(3)} partitions  last heartbeat ${w.last_heartbeat_ms} ms ago  metrics http://127.0.0.1:${w.metrics_port}/metrics`),
    'partitions:',
  ];
  const byJob = new Map<string, typeof s.partitions>();
  for (const p of s.partitions) byJob.set(p.job, [...(byJob.get(p.job) ?? []), p]);
  for (const [job, parts] of byJob) {
    lines.push(`  ${job}: ${parts.map((p) => `${p.partition}:${p.owner ?? '-'}${p.lag ? `(lag ${p.lag})` : ''}`).join(' ')}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
