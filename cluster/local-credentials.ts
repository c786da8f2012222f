// The credentials of the local cluster (`shardflow up`, `shardflow chaos`): a random password per
// role user, and a user per worker id, kept in <data dir>/auth/credentials.json (mode 0600, folder
// 0700) and reused across restarts, so that a producer set up once keeps working. Next to it, one
// env file per role a person uses (admin.env, producer.env, viewer.env) to `source` before running a
// command or a client of their own. The file also records the URL of the cluster it belongs to:
// `shardflow` commands run from the same folder against that URL pick the admin credential up
// (config.ts), and never send it anywhere else.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Config } from '../common/config.ts';
import { ShardflowError } from '../common/errors.ts';
import { accessEnvironment, type NatsAccess } from '../nats/connect.ts';
import type { Role, RoleUser } from '../nats/roles.ts';

/** Most workers a local cluster runs (`scale` refuses more): each has a user of its own. */
export const MAX_LOCAL_WORKERS = 64;

/** Ids the local cluster gives its workers. */
export function localWorkerId(index: number): string {
  return `w${index}`;
}

const storedSchema = z.strictObject({
  format: z.literal(1),
  /** user name -> password */
  passwords: z.record(z.string(), z.string().min(16)),
  /** The cluster these credentials open, once it has started. */
  url: z.string().optional(),
  /** TLS files of the cluster, when it was started with --tls. */
  tls: z.strictObject({ ca: z.string(), cert: z.string(), key: z.string() }).optional(),
});
type Stored = z.infer<typeof storedSchema>;

const SHARED_ROLES = ['admin', 'coordinator', 'producer', 'viewer'] as const satisfies readonly Role[];

/** Not a NATS user: the bearer token of the console's actions, kept with the passwords. */
const CONSOLE_TOKEN = 'console-token';

export function authFolder(dataDir: string): string {
  return join(dataDir, 'auth');
}

function credentialsFile(dataDir: string): string {
  return join(authFolder(dataDir), 'credentials.json');
}

function workerUser(id: string): string {
  return `worker-${id}`;
}

/** Writes `text` readable by this user only, atomically (a reader never sees half a file). */
export function writePrivateFile(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}

export class LocalCredentials {
  private constructor(
    private readonly dataDir: string,
    private stored: Stored,
  ) {}

  /** The folder's credentials, created (or completed) on first use. */
  static open(dataDir: string): LocalCredentials {
    const folder = authFolder(dataDir);
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    chmodSync(folder, 0o700);
    const file = credentialsFile(dataDir);
    let stored: Stored = { format: 1, passwords: {} };
    if (existsSync(file)) {
      const parsed = storedSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      if (!parsed.success) throw new ShardflowError('CONFIG_INVALID', `${file} is not a credentials file of this version: remove it (new credentials are made at the next start)`);
      stored = parsed.data;
    }
    const names = [CONSOLE_TOKEN, ...SHARED_ROLES, ...Array.from({ length: MAX_LOCAL_WORKERS }, (_, i) => workerUser(localWorkerId(i + 1)))];
    let added = false;
    for (const name of names) {
      if (stored.passwords[name] !== undefined) continue;
      stored.passwords[name] = randomBytes(18).toString('base64url');
      added = true;
    }
    const credentials = new LocalCredentials(dataDir, stored);
    if (added) credentials.save();
    return credentials;
  }

  /** Every user, with its role, for the server's authorization block. */
  users(): RoleUser[] {
    const p = this.stored.passwords;
    return [
      ...SHARED_ROLES.map((role) => ({ user: role, password: p[role]!, role })),
      ...Array.from({ length: MAX_LOCAL_WORKERS }, (_, i) => {
        const id = localWorkerId(i + 1);
        return { user: workerUser(id), password: p[workerUser(id)]!, role: 'worker' as const, workerId: id };
      }),
    ];
  }

  /** How a process of `role` (a worker: the worker `workerId`) reaches the cluster at `servers`. */
  access(role: Role, servers: string, workerId?: string): NatsAccess {
    const user = role === 'worker' ? workerUser(workerId ?? '') : role;
    const password = this.stored.passwords[user];
    if (password === undefined) throw new ShardflowError('CONFIG_INVALID', `the local cluster has no user ${user} (at most ${MAX_LOCAL_WORKERS} workers)`);
    return accessOf(this.stored, servers, user, password);
  }

  /** The bearer token the console's actions need (admin.env has it as SHARDFLOW_CONSOLE_TOKEN). */
  consoleToken(): string {
    return this.stored.passwords[CONSOLE_TOKEN]!;
  }

  /** TLS files the cluster uses from now on (undefined: plain TCP). */
  useTls(tls: Stored['tls']): void {
    if (JSON.stringify(tls) === JSON.stringify(this.stored.tls)) return;
    const { tls: _previous, ...rest } = this.stored;
    this.stored = tls ? { ...rest, tls } : rest;
    this.save();
  }

  /** Records the cluster's URL (for the CLI's pick-up) and writes the env files of the roles people use. */
  publish(servers: string): { producerEnv: string; adminEnv: string; viewerEnv: string } {
    this.stored = { ...this.stored, url: servers };
    this.save();
    const envFile = (role: Role) => {
      const file = join(authFolder(this.dataDir), `${role}.env`);
      const settings = { ...accessEnvironment(this.access(role, servers)), ...(role === 'admin' ? { SHARDFLOW_CONSOLE_TOKEN: this.consoleToken() } : {}) };
      const lines = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
      writePrivateFile(file, `# ${role} of the local shardflow cluster at ${servers}: set -a; . ${file}; set +a\n${lines.join('\n')}\n`);
      return file;
    };
    return { producerEnv: envFile('producer'), adminEnv: envFile('admin'), viewerEnv: envFile('viewer') };
  }

  private save(): void {
    writePrivateFile(credentialsFile(this.dataDir), JSON.stringify(this.stored, null, 2) + '\n');
  }
}

/** The admin access of the local cluster whose folder is `dataDir`, if it serves `servers`. */
export function localAdminAccess(dataDir: string, servers: string): NatsAccess | undefined {
  const file = credentialsFile(dataDir);
  if (!existsSync(file)) return undefined;
  let stored: Stored;
  try {
    const parsed = storedSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) return undefined;
    stored = parsed.data;
  } catch {
    // Unreadable (another user's folder): as if there were none; the server will say what is missing.
    return undefined;
  }
  if (stored.url !== servers || stored.passwords.admin === undefined) return undefined;
  return accessOf(stored, servers, 'admin', stored.passwords.admin);
}

/** A user's access to the cluster, with its TLS files when it runs with TLS. */
function accessOf(stored: Stored, servers: string, user: string, password: string): NatsAccess {
  const tls = stored.tls;
  return { servers, user, password, ...(tls ? { tlsCa: tls.ca, tlsCert: tls.cert, tlsKey: tls.key, tls: true } : {}) };
}

type AccessSettings = Pick<Config, 'DATA_DIR' | 'NATS_URL' | 'NATS_USER' | 'NATS_PASSWORD' | 'NATS_TOKEN' | 'NATS_NKEY_FILE' | 'NATS_CREDS_FILE' | 'NATS_TLS_CA' | 'NATS_TLS_CERT' | 'NATS_TLS_KEY' | 'NATS_TLS'>;

/** `config` with the local cluster's admin credential when it names none of its own and points at the
 *  local cluster of its data folder: `shardflow status` after `npm start` needs no extra typing. */
export function withLocalAdmin<C extends AccessSettings>(config: C): C {
  if (config.NATS_USER !== undefined || config.NATS_TOKEN !== undefined || config.NATS_NKEY_FILE !== undefined || config.NATS_CREDS_FILE !== undefined) return config;
  const local = localAdminAccess(config.DATA_DIR, config.NATS_URL);
  if (!local) return config;
  return {
    ...config,
    NATS_USER: local.user,
    NATS_PASSWORD: local.password,
    NATS_TLS_CA: config.NATS_TLS_CA ?? local.tlsCa,
    NATS_TLS_CERT: config.NATS_TLS_CERT ?? local.tlsCert,
    NATS_TLS_KEY: config.NATS_TLS_KEY ?? local.tlsKey,
    NATS_TLS: config.NATS_TLS || local.tls === true,
  };
}
