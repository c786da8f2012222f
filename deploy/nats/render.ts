// Writes deploy/nats/nats-server.conf, the nats-server configuration of a deployment, from the roles of
// nats/roles.ts over the shipped jobs, so that it cannot drift from them (deploy/nats-config.test.ts
// fails until the file is rendered again after a change to roles, subject names or the catalog):
//   node --import tsx deploy/nats/render.ts                       the committed files (and k8s/nats/values.yaml)
//   node --import tsx deploy/nats/render.ts --workers w1,w2 --jobs station-sentiment,my-job --out FILE
// The file names passwords by environment variable, never holds one, and can be committed.
import { writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { checkProcessId } from '../../common/config.ts';
import { ShardflowError } from '../../common/errors.ts';
import { JOB_NAME_PATTERN } from '../../common/names.ts';
import { jobNames } from '../../jobs/catalog.ts';
import { DEFAULT_RETENTION } from '../../jobs/define-job.ts';
import { authorizationBlock, type Role, type RoleUserFromEnvironment } from '../../nats/roles.ts';
import { HELM_VALUES_FILE, renderHelmValues } from './helm-values.ts';

/** The committed file. */
export const CONFIG_FILE = fileURLToPath(new URL('./nats-server.conf', import.meta.url));

export interface RenderOptions {
  /** host:port clients connect to. */
  readonly listen: string;
  /** host:port of the monitoring endpoint (/healthz, /varz, /connz). */
  readonly monitor: string;
  /** Folder of the JetStream store. */
  readonly storeDir: string;
  /** Jobs whose subjects the permissions name. */
  readonly jobs: readonly string[];
  /** Workers that get a user each, allowed only their own heartbeat; none: one `worker` user for all. */
  readonly workers: readonly string[];
}

/** What the committed file is rendered with: the settings of docker-compose.yml's nodes. */
export const DEPLOYMENT: RenderOptions = { listen: '0.0.0.0:4222', monitor: '127.0.0.1:8222', storeDir: '/data', jobs: jobNames(), workers: [] };

/** JetStream reserves each stream's max_bytes against this when the stream is created. */
const MAX_FILE_STORE = 8 * 1024 ** 3;
const MAX_MEMORY_STORE = 256 * 1024 ** 2;
const MiB = 1024 ** 2;
/** What one job's streams reserve at the default retention. */
const RESERVED_PER_JOB = Object.values(DEFAULT_RETENTION).reduce((sum, r) => sum + r.maxBytes, 0);

const SHARED_ROLES = ['admin', 'coordinator', 'producer', 'viewer'] as const satisfies readonly Role[];

/** The environment variable that holds the password of NATS user `user` (`worker-w1`: NATS_WORKER_W1_PASSWORD). */
export function passwordVariable(user: string): string {
  return `NATS_${user.toUpperCase().replace(/-/g, '_')}_PASSWORD`;
}

/** A user per role, and the workers' user(s). */
export function deploymentUsers(workers: readonly string[] = []): RoleUserFromEnvironment[] {
  const shared = SHARED_ROLES.map((role) => ({ user: role, role }));
  // With users per worker the shared one goes: it could still write any worker's heartbeat.
  const workerUsers = workers.length === 0 ? [{ user: 'worker', role: 'worker' as const }] : workers.map((id) => ({ user: `worker-${checkProcessId(id, '--workers')}`, role: 'worker' as const, workerId: id }));
  const users = [...shared.slice(0, 2), ...workerUsers, ...shared.slice(2)].map((u) => ({ ...u, passwordVariable: passwordVariable(u.user) }));
  const seen = new Map<string, string>();
  for (const u of users) {
    const other = seen.get(u.passwordVariable);
    // `w-1` and `W_1` would share a variable, hence a password.
    if (other !== undefined) throw new ShardflowError('CONFIG_INVALID', `NATS users ${other} and ${u.user} would both take their password from ${u.passwordVariable}: give the workers ids that differ in more than case, "-" and "_"`);
    seen.set(u.passwordVariable, u.user);
  }
  return users;
}

export function renderNatsServerConfig(overrides: Partial<RenderOptions> = {}): string {
  const o: RenderOptions = { ...DEPLOYMENT, ...overrides };
  for (const job of o.jobs) {
    if (!JOB_NAME_PATTERN.test(job)) throw new ShardflowError('CONFIG_INVALID', `--jobs: ${JSON.stringify(job)} is not a job name (lower-case letters, digits and "-", starting with a letter)`);
  }
  const users = deploymentUsers(o.workers);
  const shippedJobs = o.jobs.join() === DEPLOYMENT.jobs.join();
  const command = ['node --import tsx deploy/nats/render.ts', o.workers.length > 0 ? `--workers ${o.workers.join(',')}` : '', shippedJobs ? '' : `--jobs ${o.jobs.join(',')}`].filter(Boolean).join(' ');
  return `# nats-server configuration of a shardflow deployment: a user per role with the subject permissions of
# nats/roles.ts, JetStream with a bounded store, monitoring on loopback only.
# GENERATED from nats/roles.ts (render it again rather than edit it; deploy/nats-config.test.ts checks
# the committed copy) by
#   ${command}
${wrapComment(`for the jobs ${o.jobs.join(', ')}.`)}
#
# No password is in this file. nats-server replaces each unquoted \`$NAME\` below with the environment
# variable NAME when it loads the file, and refuses to start while one is unset; docker-compose.yml
# passes them from \`.env\`. Begin every password with a letter: nats-server reads a value such as
# 31e5a0... or 1234 as a number and refuses to start. Each shardflow process connects as the user of
# its role, with SHARDFLOW_NATS_USER and SHARDFLOW_NATS_PASSWORD.
#
# ${o.workers.length === 0 ? `All workers share the user \`worker\`, which may write any worker's heartbeat. To give each worker
# a user of its own, allowed only its own heartbeat key (rolePermissions('worker', jobs, workerId) in
# nats/roles.ts), render the file with the workers' ids:
#   node --import tsx deploy/nats/render.ts --workers w1,w2,w3 --out /etc/nats/nats-server.conf
# and start worker w1 as \`shardflow worker --id w1\` with SHARDFLOW_NATS_USER=worker-w1 and the password
# of NATS_WORKER_W1_PASSWORD (ids are fixed then: one compose service per worker, not --scale).` : `Each worker has a user of its own (worker-<id>), allowed only its own heartbeat key: start worker
# w1 as \`shardflow worker --id w1\` with SHARDFLOW_NATS_USER=worker-w1.`}
# Jobs of your own: --jobs ${o.jobs[0] ?? 'station-sentiment'},my-job (permissions name each job's subjects).
#
# The nodes of a cluster share this file and add their own name and routes on the command line, as
# docker-compose.yml does: --name nats1 --cluster_name shardflow --cluster nats://0.0.0.0:6222
# --routes nats://nats2:6222,nats://nats3:6222. Keep the route port (6222) on a private network: routes
# are not authenticated here.

# Clients: every shardflow process, and producers of your own.
listen: "${o.listen}"

# /healthz, /varz and /connz (who is connected, from where) on loopback only: the node's own healthcheck
# reaches it, nothing on the network does.
http: "${o.monitor}"

jetstream {
  store_dir: "${o.storeDir}"
  # ${MAX_FILE_STORE / 1024 ** 3} GiB on each node. JetStream reserves each stream's max_bytes when the stream is
  # created: ${RESERVED_PER_JOB / MiB} MiB per job at the default retention, on every node that holds a replica.
  max_file_store: ${MAX_FILE_STORE}
  # ${MAX_MEMORY_STORE / MiB} MiB: shardflow keeps every stream and bucket on file.
  max_memory_store: ${MAX_MEMORY_STORE}
}

# Mutual TLS: clients must present a certificate signed by ca_file. Uncomment, mount the files, and give
# every shardflow process SHARDFLOW_NATS_TLS_CA, SHARDFLOW_NATS_TLS_CERT and SHARDFLOW_NATS_TLS_KEY.
# tls {
#   cert_file: "/etc/nats/tls/server.pem"
#   key_file: "/etc/nats/tls/server.key"
#   ca_file: "/etc/nats/tls/ca.pem"
#   verify: true
#   timeout: 5
# }

${authorizationBlock(users, o.jobs, { layout: 'block' })}
`;
}

/** `text` as comment lines of at most 104 characters. */
function wrapComment(text: string): string {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 1 + word.length <= 104) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(`# ${word}`);
  }
  return lines.join('\n');
}

function main(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: { workers: { type: 'string' }, jobs: { type: 'string' }, out: { type: 'string' } }, strict: true });
  const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);
  const options: Partial<RenderOptions> = {
    ...(values.workers !== undefined && { workers: list(values.workers) }),
    ...(values.jobs !== undefined && { jobs: list(values.jobs) }),
  };
  const out = resolve(values.out ?? CONFIG_FILE);
  writeFileSync(out, renderNatsServerConfig(options));
  const users = deploymentUsers(options.workers);
  process.stdout.write(`wrote ${relative(process.cwd(), out)}: users ${users.map((u) => u.user).join(', ')}; nats-server wants ${users.map((u) => u.passwordVariable).join(', ')} in its environment\n`);
  // The committed files go together: Kubernetes' NATS has the same users as compose's.
  if (values.out === undefined && values.workers === undefined && values.jobs === undefined) {
    writeFileSync(HELM_VALUES_FILE, renderHelmValues(DEPLOYMENT.jobs));
    process.stdout.write(`wrote ${relative(process.cwd(), HELM_VALUES_FILE)}: the same users for the NATS Helm chart\n`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 2;
  }
}
