// Prometheus file-based service discovery for the local cluster: every process serves /metrics on a
// free port, announced in its heartbeat; `shardflow up` writes them to a targets file that
// deploy/prometheus.yml reads (file_sd_configs), so Prometheus follows scaling and restarts.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ClusterStatus } from '../coordinator/cluster-status.ts';

/** One file_sd target group: `targets` are host:port, `labels` are added to every scraped series. */
export interface TargetGroup {
  targets: string[];
  labels: { role: string; id: string };
}

/** The scrape targets of a cluster: live workers and coordinators, plus the `up` process itself. */
export function targetGroups(status: ClusterStatus, self: { id: string; metricsPort: number } | undefined, host = '127.0.0.1'): TargetGroup[] {
  const groups: TargetGroup[] = [];
  if (self) groups.push({ targets: [`${host}:${self.metricsPort}`], labels: { role: 'launcher', id: self.id } });
  for (const c of status.coordinators) if (c.alive && c.metrics_port) groups.push({ targets: [`${host}:${c.metrics_port}`], labels: { role: 'coordinator', id: c.id } });
  for (const w of status.workers) if (w.alive && w.metrics_port) groups.push({ targets: [`${host}:${w.metrics_port}`], labels: { role: 'worker', id: w.id } });
  return groups;
}

/** Replaces the targets file atomically: Prometheus never reads half a file. */
export function writeTargetsFile(path: string, groups: TargetGroup[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(groups, null, 2) + '\n');
  renameSync(tmp, path);
}
