// What the cluster benchmarks share: a nats-server of their own, and a quiet logger.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerProcess } from '../cluster/nats-server.ts';
import { ensureJobTopology } from '../nats/topology.ts';
import { createLogger } from '../common/logger.ts';
import type { Job } from '../jobs/define-job.ts';

export const quietLog = createLogger('bench', 'silent');

export async function withNats<T>(fn: (server: NatsServerProcess, nc: NatsConnection) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-bench-'));
  const server = await startNatsServer({ dir });
  const nc = await connect({ servers: server.url });
  try {
    return await fn(server, nc);
  } finally {
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function prepareJob(nc: NatsConnection, job: string): Promise<void> {
  await ensureJobTopology(nc, await jetstreamManager(nc), job, { replicas: 1 });
}

/** The same with the job's own retention and result expiry. */
export async function prepareJobOf(nc: NatsConnection, job: Job<unknown>): Promise<void> {
  await ensureJobTopology(nc, await jetstreamManager(nc), job, { replicas: 1 });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
