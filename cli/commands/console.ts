// `shardflow console`: the web console of a cluster (started by `npm start` too).
import type { Config } from '../../common/config.ts';
import { ShardflowError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { startMetricsServer } from '../../common/metrics-server.ts';
import { ClusterView } from '../../console/cluster-view.ts';
import { startConsoleServer } from '../../console/server.ts';
import { connectNats, natsAccess } from '../../nats/connect.ts';

export const CONSOLE_HELP = `Usage: shardflow console

Serves the web console of the cluster at http://SHARDFLOW_CONSOLE_HOST:SHARDFLOW_CONSOLE_PORT
(default http://127.0.0.1:8080) until SIGTERM or Ctrl-C: coordinators, workers and a live timeline;
each job's partitions, throughput and lag; every stream and bucket; dead letters by reason with
their payloads; live results with dashboards; chaos reports. A JSON API under /api backs every page
(see the README). Without SHARDFLOW_CONSOLE_TOKEN it is read-only; with it, requests carrying
\`Authorization: Bearer <token>\` may scale, drain a worker, kill a process (local cluster), pause and
resume a job and replay dead letters. The local cluster makes a token: auth/admin.env.`;

export async function consoleCommand(config: Config, log: Logger): Promise<number> {
  const metricsServer = await startMetricsServer({ port: config.METRICS_PORT, host: config.METRICS_HOST, token: config.METRICS_TOKEN });
  const nc = await connectNats(natsAccess(config), { name: `console-${process.pid}`, persistent: true });
  const view = await ClusterView.start(nc, config, log);
  const server = await startConsoleServer(view, config, log).catch((err: unknown) => {
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new ShardflowError('CONFIG_INVALID', `the console cannot listen on ${config.CONSOLE_HOST}:${config.CONSOLE_PORT} (${code === 'EADDRINUSE' ? 'in use' : 'not allowed'}): choose another with SHARDFLOW_CONSOLE_PORT`, { cause: err });
    }
    throw err;
  });
  log.info({ url: server.url, actions: config.CONSOLE_TOKEN !== undefined, metricsPort: metricsServer.port }, 'console ready');
  process.stdout.write(`shardflow console at ${server.url}${config.CONSOLE_TOKEN ? '' : ' (read-only: no SHARDFLOW_CONSOLE_TOKEN)'}\n`);
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'console stopping');
  await server.close();
  view.stop();
  await nc.close();
  await metricsServer.close();
  return 0;
}
