// `shardflow coordinator`: one coordinator process (run two: one leads, the other stands by).
import { defaultProcessId, type Config } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { startMetricsServer } from '../../common/metrics-server.ts';
import { Coordinator } from '../../coordinator/coordinator.ts';
import { autoscaleSettings } from '../../coordinator/autoscale-policy.ts';
import { natsAccess } from '../../nats/connect.ts';

export const COORDINATOR_HELP = `Usage: shardflow coordinator [--id ID]

Runs a coordinator until SIGTERM or Ctrl-C. Run two: they elect a leader on JetStream KV; the leader
tracks worker heartbeats and assigns every job's partitions to the live workers (balanced, moving as
few as it can); the other takes over when the leader stops renewing its lease.
  --id ID   coordinator id (default SHARDFLOW_COORDINATOR_ID, else coordinator-<host>-<pid>)
Timing: SHARDFLOW_LEADER_LEASE_MS, SHARDFLOW_WORKER_TIMEOUT_MS, SHARDFLOW_HEARTBEAT_MS.
With SHARDFLOW_AUTOSCALE=MIN..MAX the leader also decides how many workers should run (from their lag and
CPU, SHARDFLOW_AUTOSCALE_*) and publishes it for the launcher (shardflow up --autoscale).`;

export async function coordinatorCommand(options: { id?: string }, config: Config, log: Logger): Promise<number> {
  const id = options.id ?? config.COORDINATOR_ID ?? defaultProcessId('coordinator');
  const clog = log.child({ coordinator: id });
  const metricsServer = await startMetricsServer({ port: config.METRICS_PORT, host: config.METRICS_HOST, token: config.METRICS_TOKEN });
  const coordinator = await Coordinator.start({
    id,
    natsUrl: config.NATS_URL,
    nats: natsAccess(config),
    replicas: config.REPLICAS,
    workerTimeoutMs: config.WORKER_TIMEOUT_MS,
    leaderLeaseMs: config.LEADER_LEASE_MS,
    metricsPort: metricsServer.port,
    log: clog,
    ...(config.AUTOSCALE ? { autoscale: autoscaleSettings(config) } : {}),
  });
  clog.info({ metricsPort: metricsServer.port, role: coordinator.role, term: coordinator.term }, 'coordinator ready');
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  clog.info({ signal }, 'coordinator stopping');
  await coordinator.stop();
  await metricsServer.close();
  return 0;
}
