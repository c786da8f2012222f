// Status readings for the console's pure tests.
import type { ClusterStatus, PartitionStatus } from '../coordinator/cluster-status.ts';

export const partition = (p: number, owner: string | null, events: number | null): PartitionStatus => ({
  job: 'j',
  partition: p,
  owner,
  lag: 0,
  events,
  watermark: null,
  checkpoint_at: null,
  checkpoint_bytes: null,
  restarts: 0,
  keys: 0,
  windows: 0,
});

export function status(over: Partial<ClusterStatus> = {}): ClusterStatus {
  return {
    leader: { id: 'c1', term: 1, lease_age_ms: 10 },
    coordinators: [],
    workers: ['w1', 'w2'].map((id, i) => ({ id, alive: true, partitions: 1, last_heartbeat_ms: 10, metrics_port: 0, host: 'h', pid: 100 + i, rss_bytes: 1, full: false })),
    partitions: [partition(0, 'w1', 0), partition(1, 'w2', 0)],
    jobs: [{ name: 'j', description: '', partitions: 2, window: 'tumbling', aggregates: [], sink: { type: 'kv' }, registeredAt: 0, paused: false, paused_by: null }],
    assignment: { term: 1, version: 1 },
    sources: [],
    ...over,
  };
}

