// `shardflow up` (and `npm start`): the local cluster in the foreground until Ctrl-C or SIGTERM.
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { LocalCluster } from '../../cluster/local-cluster.ts';
import { spreadOverHosts } from '../../cluster/placement.ts';
import { destroyOnExit, removeLeftovers, VirtualHosts, virtualHostsUnavailable } from '../../cluster/virtual-hosts.ts';
import { followAutoscale, type AutoscaleFollower } from '../../cluster/autoscaler.ts';
import { childEnvironment, parseWorkerRange, type Config } from '../../common/config.ts';
import { ShardflowError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { startMetricsServer } from '../../common/metrics-server.ts';
import { loadJob } from '../../jobs/catalog.ts';
import { targetGroups, writeTargetsFile } from '../prometheus-targets.ts';
import { readStatus } from '../../coordinator/cluster-status.ts';
import { authFolder } from '../../cluster/local-credentials.ts';
import { connectNats } from '../../nats/connect.ts';
import { startLocalRegistry } from '../../schema/local-registry.ts';

export const UP_HELP = `Usage: shardflow up [--workers N] [--coordinators N] [--job NAME] [--rate R] [--tls] [--hosts N]
                    [--autoscale MIN..MAX]

Starts a whole local cluster and keeps it running until Ctrl-C or SIGTERM: an embedded nats-server
(port from SHARDFLOW_NATS_URL, default 4322; store in <SHARDFLOW_DATA_DIR>/nats), the coordinators, the
workers, and a producer feeding the job. Stopping checkpoints every partition first; running it again
resumes from the checkpoints. Logs of every process go to <SHARDFLOW_DATA_DIR>/logs/.
  --workers N        worker processes (default 5)
  --coordinators N   coordinator processes (default 2: leader and standby)
  --job NAME         the job to run and feed (default station-sentiment)
  --rate R           events per second the producer publishes (default 200; 0: none)
  --tls              mutual TLS between every process and NATS, with a local CA made for the cluster
                     (in <SHARDFLOW_DATA_DIR>/auth/tls; needs openssl)
  --hosts N          a multi-host cluster on this machine (root only): N hosts made as network
                     namespaces on a private bridge (10.203.k.0/24), one clustered NATS node each
                     (3 replicas), coordinators on the first two hosts, workers round robin; every
                     process talks over the hosts' addresses. Its data folder is <SHARDFLOW_DATA_DIR>/hosts;
                     Ctrl-C stops the processes and deletes every namespace, link and rule it made
  --autoscale MIN..MAX  the leader decides how many workers run, from their lag and CPU, with
                     hysteresis (SHARDFLOW_AUTOSCALE_UP_LAG, _UP_CPU, _DOWN_LAG, _DOWN_CPU, _UP_FOR_MS,
                     _DOWN_FOR_MS, _COOLDOWN_MS); this launcher starts and stops workers to match;
                     --workers is the count at the start. \`shardflow status\` shows the decision

The web console listens on SHARDFLOW_CONSOLE_HOST:SHARDFLOW_CONSOLE_PORT (default 127.0.0.1:8080).

Every client needs a credential: the nats-server takes only the cluster's users (one per role, made
once in <SHARDFLOW_DATA_DIR>/auth/ and reused). \`shardflow\` commands run with the same data folder use
the admin credential; producers source auth/producer.env.`;

/** The console's port: the configured one (a free one for 0), or undefined when it is taken (the
 *  cluster runs without a console rather than not at all). */
async function consolePortFor(config: Config, log: Logger): Promise<number | undefined> {
  const port = await new Promise<number | undefined>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ port: config.CONSOLE_PORT, host: config.CONSOLE_HOST }, () => {
      const { port: bound } = server.address() as AddressInfo;
      server.close(() => resolve(bound));
    });
  });
  if (port === undefined) log.warn({ port: config.CONSOLE_PORT, host: config.CONSOLE_HOST }, 'the console port is taken: starting without the console (set SHARDFLOW_CONSOLE_PORT)');
  return port;
}

export interface UpOptions {
  workers: number;
  coordinators: number;
  job: string;
  rate: number;
  tls?: boolean;
  /** A multi-host cluster on this many virtual hosts (cluster/virtual-hosts.ts). */
  hosts?: number;
  /** "MIN..MAX": workers follow the leader's autoscaling decision within that range. */
  autoscale?: string;
}

export async function upCommand(options: UpOptions, config: Config, log: Logger): Promise<number> {
  const url = new URL(config.NATS_URL.split(',')[0]!.replace(/^nats:/, 'http:'));
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
    throw new ShardflowError('CONFIG_INVALID', `shardflow up starts its own nats-server on this machine; SHARDFLOW_NATS_URL must point at 127.0.0.1 (got ${config.NATS_URL})`);
  }
  if (options.workers < 1 || options.coordinators < 1) {
    throw new ShardflowError('CONFIG_INVALID', 'shardflow up needs at least one worker and one coordinator (--workers N, --coordinators N)');
  }
  if (options.hosts !== undefined && (options.hosts < 3 || options.hosts > 9)) {
    throw new ShardflowError('CONFIG_INVALID', `--hosts must be from 3 to 9 (a clustered NATS node per host, and JetStream needs 3 for its replicas), got ${options.hosts}`);
  }
  const range = options.autoscale === undefined ? undefined : parseWorkerRange(options.autoscale);
  if (typeof range === 'string') throw new ShardflowError('CONFIG_INVALID', `--autoscale: ${range}`);
  if (range) options = { ...options, workers: Math.min(range.max, Math.max(range.min, options.workers)) };
  const noHosts = options.hosts !== undefined ? virtualHostsUnavailable() : undefined;
  if (noHosts) throw new ShardflowError('CONFIG_INVALID', `--hosts: ${noHosts}; run as root on Linux, or without --hosts`);
  const job = await loadJob(options.job);
  const consolePort = await consolePortFor(config, log);
  process.stdout.write(`starting a local cluster: nats-server, ${options.coordinators} coordinators, ${options.workers} workers, job ${job.name}${options.hosts ? `, on ${options.hosts} hosts` : ''}...\n`);
  // Hosts are deleted however this process ends: below after a graceful stop, else at its exit.
  if (options.hosts) removeLeftovers();
  const hosts = options.hosts ? VirtualHosts.create(options.hosts) : undefined;
  const forgetHosts = hosts ? destroyOnExit(hosts, { signals: false }) : () => {};
  const dataDir = hosts ? join(config.DATA_DIR, 'hosts') : config.DATA_DIR;
  const cluster = await LocalCluster.up({
    ...(hosts ? { placement: spreadOverHosts(hosts.hosts) } : {}),
    dataDir,
    natsPort: Number(url.port || 4222),
    coordinators: options.coordinators,
    workers: options.workers,
    job,
    jobSpec: options.job,
    rate: options.rate,
    tls: options.tls === true,
    ...(consolePort !== undefined ? { consolePort } : {}),
    log,
    // The coordinators decide (the leader publishes), this launcher carries it out.
    env: { ...childEnvironment(), ...(range ? { SHARDFLOW_AUTOSCALE: `${range.min}..${range.max}` } : {}) },
  }).catch((err: unknown) => {
    hosts?.destroy();
    throw err;
  });
  const credentials = cluster.publishCredentials();
  let autoscaler: AutoscaleFollower | undefined;
  const autoscaleNc = range ? await connectNats(cluster.access('admin'), { name: 'shardflow-up-autoscale', persistent: true }) : undefined;
  if (range && autoscaleNc) autoscaler = await followAutoscale(autoscaleNc, hosts ? 3 : 1, cluster, range, log);
  const status = await readStatus(cluster.access('viewer'), config).catch(() => undefined);
  // The launcher's own /metrics (its producer), and the scrape targets of every process for Prometheus.
  const metricsServer = await startMetricsServer({ port: config.METRICS_PORT, host: config.METRICS_HOST, token: config.METRICS_TOKEN });
  const targetsFile = join(config.DATA_DIR, 'prometheus', 'targets.json');
  const refreshTargets = () =>
    readStatus(cluster.access('viewer'), config)
      .then((s) => writeTargetsFile(targetsFile, targetGroups(s, { id: 'up', metricsPort: metricsServer.port })))
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'prometheus targets not refreshed'));
  await refreshTargets();
  const registryNc = await connectNats(cluster.access('admin'), { name: 'shardflow-up-registry', persistent: true });
  const registry = await startLocalRegistry({
    nc: registryNc,
    authDir: authFolder(dataDir),
    host: config.REGISTRY_HOST,
    port: config.REGISTRY_PORT,
    token: config.REGISTRY_TOKEN,
    replicas: config.REPLICAS,
    job,
    log,
  });
  const targetsTimer = setInterval(() => void refreshTargets(), 2_000);
  process.stdout.write(
    [
      'shardflow local cluster is up',
      `  nats          ${cluster.natsUrl}  (store ${dataDir}/nats; ${options.tls ? 'mutual TLS, ' : ''}a credential per role)`,
      `  processes     ${cluster.processes().map((p) => `${p.id}:${p.pid}${p.host ? `@${p.host}` : ''}`).join(' ')}`,
      ...(hosts ? [`  hosts         ${hosts.hosts.map((h) => `${h.name} ${h.address} (netns ${h.netns})`).join(', ')}; this machine is ${hosts.observerAddress}`] : []),
      `  leader        ${status?.leader ? `${status.leader.id} (term ${status.leader.term})` : 'being elected'}`,
      `  job           ${job.name}, producer at ${options.rate} events/s`,
      ...(range ? [`  autoscale     ${range.min}..${range.max} workers, decided by the leader from lag and CPU (see status)`] : []),
      `  console       ${cluster.consoleUrl ?? 'not started (its port is taken: set SHARDFLOW_CONSOLE_PORT)'}${cluster.consoleUrl ? `   (actions need the token SHARDFLOW_CONSOLE_TOKEN in ${credentials.adminEnv})` : ''}`,
      hosts
        ? `  status        set -a; . ${credentials.adminEnv}; set +a; npx shardflow status   (the admin credential and the hosts' URLs)`
        : `  status        npx shardflow status   (commands run from this folder use the admin credential in ${credentials.adminEnv})`,
      `  results       npx shardflow results --job ${job.name}`,
      `  producers     need a credential: set -a; . ${credentials.producerEnv}; set +a   (user "producer" may publish events only,`,
      `                to shardflow.ingest.${job.name} or a partition; a viewer's credential is in ${credentials.viewerEnv})`,
      `  metrics       every process's /metrics, listed for Prometheus in ${targetsFile}`,
      `                (prometheus --config.file=deploy/prometheus.yml; Grafana dashboard in deploy/grafana/)`,
      `  schemas       ${registry.summary}`,
      `  logs          ${cluster.logDir}/`,
      '  control       npx shardflow scale --workers N | kill worker|coordinator|leader | down',
      'Ctrl-C stops everything (checkpoints first); running it again resumes from the checkpoints.',
      '',
    ].join('\n'),
  );
  const progress = setInterval(() => {
    void readStatus(cluster.access('viewer'), config)
      .then((s) => {
        const alive = s.workers.filter((w) => w.alive).length;
        const lag = s.partitions.reduce((n, p) => n + (p.lag ?? 0), 0);
        process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] produced ${cluster.produced} events; leader ${s.leader?.id ?? 'none'} term ${s.leader?.term ?? '-'}; ${alive} workers alive; lag ${lag}\n`);
      })
      .catch(() => {});
  }, 10_000);
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
    // A bug in the launcher must not leave its processes running without it: stop them all.
    process.once('uncaughtException', (err) => {
      log.error({ err: err.message, stack: err.stack }, 'the launcher failed');
      resolve(`launcher error (${err.message})`);
    });
    cluster.serveControl(() => resolve('shardflow down'));
  });
  clearInterval(progress);
  clearInterval(targetsTimer);
  autoscaler?.stop();
  await autoscaleNc?.close().catch(() => {});
  process.stdout.write(`\n${signal}: stopping (workers checkpoint and release their partitions first)...\n`);
  await registry.server?.close();
  await registryNc.close().catch(() => {});
  await cluster.down();
  hosts?.destroy();
  forgetHosts();
  writeTargetsFile(targetsFile, []);
  await metricsServer.close();
  process.stdout.write(`stopped. State kept in ${config.DATA_DIR}/; \`npm start\` resumes from the checkpoints.\n`);
  return signal.startsWith('launcher error') ? 1 : 0;
}
