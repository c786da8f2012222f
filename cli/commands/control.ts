// `shardflow scale`, `kill` and `down`: requests to the running local cluster (`shardflow up`).
import type { Config } from '../../common/config.ts';
import { isShardflowError, ShardflowError } from '../../common/errors.ts';
import { COORDINATION_BUCKET, LOCAL_CONTROL_SUBJECT } from '../../common/names.ts';
import { userInfo } from 'node:os';
import { readJob, setPaused } from '../../coordinator/job-registry.ts';
import { openBucket } from '../../nats/topology.ts';
import type { LocalControlReply, LocalControlRequest } from '../../cluster/local-control.ts';
import { connectNats, natsAccess, permissionDenied, redactUrl } from '../../nats/connect.ts';

export const SCALE_HELP = `Usage: shardflow scale --workers N

Starts or gracefully stops workers of the running local cluster until N run; the leader rebalances.`;

export const KILL_HELP = `Usage: shardflow kill worker|coordinator|leader [--id ID]

kill -9 of one process of the running local cluster (a random one unless --id), for chaos by hand.
The cluster starts it again a second later, as a supervisor would; watch \`shardflow status\`.`;

export const DOWN_HELP = `Usage: shardflow down

Stops the running local cluster as Ctrl-C does: workers checkpoint and release first.`;

export async function controlCommand(request: LocalControlRequest, config: Config): Promise<number> {
  const nc = await connectNats(natsAccess(config), { name: `control-${process.pid}` }).catch((err: unknown) => {
    if (!isShardflowError(err, 'NATS_UNREACHABLE')) throw err;
    throw new ShardflowError('PROCESS_UNAVAILABLE', `no local cluster answers at ${redactUrl(config.NATS_URL)}: start one with \`npm start\` (or set SHARDFLOW_NATS_URL)`, { cause: err });
  });
  try {
    const m = await nc.request(LOCAL_CONTROL_SUBJECT, JSON.stringify(request), { timeout: 120_000 }).catch((cause: unknown) => {
      const denied = permissionDenied(cause, natsAccess(config));
      if (denied) throw denied;
      throw new ShardflowError('PROCESS_UNAVAILABLE', `no \`shardflow up\` answers on ${redactUrl(config.NATS_URL)} (${(cause as Error).message}); these verbs drive the local cluster started by \`npm start\``, { cause });
    });
    const reply = m.json() as LocalControlReply;
    if (!reply.ok) throw new ShardflowError('CONFIG_INVALID', reply.error);
    if (reply.workers) process.stdout.write(`workers: ${reply.workers.join(' ')}\n`);
    if (reply.killed) process.stdout.write(`killed ${reply.killed.role} ${reply.killed.id} (pid ${reply.killed.pid}) with SIGKILL; it restarts in about a second\n`);
    if (reply.stopping) process.stdout.write('the local cluster is stopping (workers checkpoint first)\n');
    return 0;
  } finally {
    await nc.close();
  }
}

export const PAUSE_HELP = `Usage: shardflow pause --job NAME | shardflow resume --job NAME

Pauses a running job of the cluster: the leader assigns its partitions to nobody, so their workers
checkpoint and release them; input keeps arriving and waits in the job's stream (its lag grows).
\`resume\` hands the partitions out again and processing goes on from the checkpoints. Needs a
credential that may write the coordination bucket (the admin's).`;

export async function pauseCommand(options: { job: string; paused: boolean }, config: Config): Promise<number> {
  const nc = await connectNats(natsAccess(config), { name: `pause-${process.pid}` });
  try {
    const kv = await openBucket(nc, COORDINATION_BUCKET, config.REPLICAS);
    if (!(await readJob(kv, options.job))) throw new ShardflowError('JOB_UNKNOWN', `no job ${options.job} is registered in this cluster; see \`shardflow status\``);
    await setPaused(kv, options.job, options.paused, `cli (${userInfo().username})`).catch((err: unknown) => {
      throw permissionDenied(err, natsAccess(config)) ?? err;
    });
    process.stdout.write(`job ${options.job} ${options.paused ? 'paused: its partitions checkpoint and wait' : 'resumed'}\n`);
    return 0;
  } finally {
    await nc.close();
  }
}
