// The one place that reads the environment. Every setting has a default and a line of documentation;
// unknown SHARDFLOW_* variables are rejected so a typo does not silently fall back to a default.
import { accessSync, constants, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { sinkSpecSchema, type SinkDefaults } from './sink-spec.ts';
import { ShardflowError } from './errors.ts';

const ENV_PREFIX = 'SHARDFLOW_';

/** Ids of workers and coordinators name KV keys, metric labels and log files: plain characters only. */
const PROCESS_ID = /^[A-Za-z0-9_-]{1,64}$/;
const PROCESS_ID_RULE = 'an id is 1 to 64 letters, digits, "-" or "_"';

/** `id` if it may name a worker or coordinator; else a CONFIG_INVALID error naming `source` (the flag
 *  or variable it came from) and what an id may contain. */
export function checkProcessId(id: string, source: string): string {
  if (!PROCESS_ID.test(id)) throw new ShardflowError('CONFIG_INVALID', `${source} ${JSON.stringify(id)} is not a valid id: ${PROCESS_ID_RULE}`);
  return id;
}

export const configSchema = z.strictObject({
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level of every process'),
  DATA_DIR: z.string().min(1).default('.shardflow').describe('folder for local state: embedded nats-server store, result files'),
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4322').describe('NATS server(s) of the cluster, comma-separated (the embedded default listens on 4322)'),
  NATS_MAX_STORE: z.string().transform(byteSizeSetting(1024 ** 2)).prefault('8GiB').describe("JetStream file store ceiling of the nats-server(s) that `up` and `chaos` start: bytes or a size such as 8GiB, 512MiB. JetStream reserves each stream's max_bytes against it at creation, and one job's default retention reserves 1408 MiB (input 1 GiB + ingest 256 MiB + dead letters 64 MiB + late 64 MiB): leave that per job plus room for the buckets"),
  NATS_USER: z.string().min(1).optional().describe('user name for NATS (with SHARDFLOW_NATS_PASSWORD); `up` sets it for its own processes'),
  NATS_PASSWORD: z.string().min(1).optional().describe('password of SHARDFLOW_NATS_USER (never logged)'),
  NATS_TOKEN: z.string().min(1).optional().describe('token for NATS, instead of a user (never logged)'),
  NATS_NKEY_FILE: z.string().min(1).optional().describe('file holding an nkey seed (SU...) to sign the NATS nonce with, instead of a user or token'),
  NATS_CREDS_FILE: z.string().min(1).optional().describe('NATS credentials file (user JWT and seed, as nsc writes it), instead of a user, token or nkey'),
  NATS_TLS_CA: z.string().min(1).optional().describe('PEM file of the CA that signed the NATS servers\' certificates (verified when set)'),
  NATS_TLS_CERT: z.string().min(1).optional().describe('PEM client certificate for NATS servers that require mutual TLS (with SHARDFLOW_NATS_TLS_KEY)'),
  NATS_TLS_KEY: z.string().min(1).optional().describe('PEM key of SHARDFLOW_NATS_TLS_CERT'),
  NATS_TLS: z.enum(['true', 'false']).default('false').transform((v) => v === 'true').describe('require TLS to NATS: refuse a server that does not offer it (implied by the TLS files)'),
  REPLICAS: z.coerce.number().int().min(1).max(5).default(1).describe('replicas of streams and buckets (3 on a 3-node NATS cluster)'),
  WORKER_ID: z.string().regex(PROCESS_ID, PROCESS_ID_RULE).optional().describe('id of a worker process (default: worker-<host>-<pid>)'),
  WORKER_MEMORY_HIGH_WATER: z.coerce.number().min(0.2).max(0.99).default(0.8).describe("share of its heap limit above which a worker takes no new partitions (it keeps its own; free again 0.1 below); set Node's limit with NODE_OPTIONS=--max-old-space-size"),
  METRICS_HOST: z.string().min(1).default('127.0.0.1').describe('address /metrics and /healthz listen on (0.0.0.0 lets Prometheus in another container or host scrape)'),
  METRICS_TOKEN: z.string().min(16).optional().describe('bearer token /metrics and /healthz require when set (Prometheus: authorization.credentials); at least 16 characters'),
  CONSOLE_HOST: z.string().min(1).default('127.0.0.1').describe('address the web console (`shardflow console`) listens on'),
  CONSOLE_PORT: z.coerce.number().int().min(0).max(65535).default(8080).describe('port of the web console (0: a free port, printed at start)'),
  CONSOLE_TOKEN: z.string().min(16).optional().describe("bearer token the console's actions (scale, drain, kill, pause, replay) require; without it the console is read-only. The local cluster makes one (auth/admin.env)"),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0).describe('port of /metrics for this process (0: a free port, logged at start)'),
  CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(50).default(1_000).describe('ms between checkpoints of a partition'),
  CHECKPOINT_EVERY_EVENTS: z.coerce.number().int().min(1).default(50_000).describe('checkpoint a partition after this many events, whichever comes first'),
  COORDINATOR_ID: z.string().regex(PROCESS_ID, PROCESS_ID_RULE).optional().describe('id of a coordinator process (default: coordinator-<host>-<pid>)'),
  HEARTBEAT_MS: z.coerce.number().int().min(20).default(250).describe('ms between heartbeats of workers and coordinators'),
  WORKER_TIMEOUT_MS: z.coerce.number().int().min(100).default(1_000).describe('ms without a heartbeat after which the leader declares a worker dead'),
  LEADER_LEASE_MS: z.coerce.number().int().min(200).default(1_500).describe('ms the leader record stays valid without renewal; then the standby takes over'),
  AUTOSCALE: z
    .string()
    .transform((text, ctx) => {
      const range = parseWorkerRange(text);
      if (typeof range === 'string') {
        ctx.addIssue({ code: 'custom', message: range });
        return z.NEVER;
      }
      return range;
    })
    .optional()
    .describe('MIN..MAX: the leader decides how many workers should run, from their lag and CPU (a launcher such as `shardflow up --autoscale` carries it out)'),
  AUTOSCALE_UP_LAG: z.coerce.number().int().min(1).default(2_000).describe('autoscale: messages of lag per worker above which a worker is added'),
  AUTOSCALE_UP_CPU: z.coerce.number().min(0.05).max(1).default(0.8).describe('autoscale: mean share of a core per worker above which a worker is added'),
  AUTOSCALE_DOWN_LAG: z.coerce.number().int().min(0).default(200).describe('autoscale: total lag below which (with the CPU below AUTOSCALE_DOWN_CPU) a worker is removed'),
  AUTOSCALE_DOWN_CPU: z.coerce.number().min(0).max(1).default(0.3).describe('autoscale: mean share of a core per worker below which a worker may be removed'),
  AUTOSCALE_UP_FOR_MS: z.coerce.number().int().min(0).default(5_000).describe('autoscale: ms the pressure must last before a worker is added'),
  AUTOSCALE_DOWN_FOR_MS: z.coerce.number().int().min(0).default(30_000).describe('autoscale: ms the calm must last before a worker is removed'),
  AUTOSCALE_COOLDOWN_MS: z.coerce.number().int().min(0).default(10_000).describe('autoscale: ms after a change before the next'),
  POSTGRES_URL: z.string().min(1).default('postgres://postgres@127.0.0.1:5432/postgres').describe('PostgreSQL of the jobs whose postgres sink names no url (openfood-*, crypto-prices)'),
  REGISTRY_HOST: z.string().min(1).default('127.0.0.1').describe('address the schema registry REST API (`shardflow schema serve`) listens on; 127.0.0.1 keeps it to this machine'),
  REGISTRY_PORT: z.coerce.number().int().min(0).max(65535).default(8081).describe("port of the schema registry REST API (8081, Confluent's; 0: a free port, printed at start)"),
  REGISTRY_TOKEN: z.string().min(16).optional().describe('token the schema registry REST API requires for writes (register, config), as a bearer token or as the password of basic auth; reads are open. Without it `schema serve` makes one and prints it'),
  SINK: z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON sink spec, e.g. {"type":"mongodb","url":"mongodb://host:27017","database":"db","collection":"results"}' });
        return z.NEVER;
      }
    })
    .pipe(sinkSpecSchema)
    .optional()
    .describe('JSON sink spec that replaces the sink of every job this worker runs (e.g. MongoDB in docker-compose)'),
  SOURCE_URLS: z
    .string()
    .transform((text, ctx) => {
      const urls: Record<string, string> = {};
      for (const item of text.split(',').map((t) => t.trim()).filter(Boolean)) {
        const match = /^([a-z][a-z0-9-]*\/[a-z][a-z0-9-]*)=(https?:\/\/\S+)$/.exec(item);
        if (!match) {
          ctx.addIssue({ code: 'custom', message: `"${item}" must be job/source=url, e.g. crypto-prices/coincap=http://127.0.0.1:8080/v2/assets` });
          return z.NEVER;
        }
        urls[match[1]!] = match[2]!;
      }
      return urls;
    })
    .optional()
    .describe('where sources read from instead of the URL their job declares, comma-separated job/source=url (e.g. a mirror or a recorded-fixture server)'),
  SOURCES: z.enum(['on', 'off']).default('on').describe("'off': this worker runs none of its jobs' sources (events come from producers only, as in tests of generated input)"),
}).superRefine((c, ctx) => {
  const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (c.NATS_USER !== undefined && c.NATS_PASSWORD === undefined) problem('NATS_PASSWORD', 'is required with SHARDFLOW_NATS_USER');
  if (c.NATS_PASSWORD !== undefined && c.NATS_USER === undefined) problem('NATS_USER', 'is required with SHARDFLOW_NATS_PASSWORD');
  const ways = (['NATS_USER', 'NATS_TOKEN', 'NATS_NKEY_FILE', 'NATS_CREDS_FILE'] as const).filter((k) => c[k] !== undefined);
  if (ways.length > 1) problem(ways[1]!, `choose one way to authenticate, not ${ways.map((k) => ENV_PREFIX + k).join(' and ')}`);
  if ((c.NATS_TLS_CERT === undefined) !== (c.NATS_TLS_KEY === undefined)) problem(c.NATS_TLS_CERT === undefined ? 'NATS_TLS_CERT' : 'NATS_TLS_KEY', 'SHARDFLOW_NATS_TLS_CERT and SHARDFLOW_NATS_TLS_KEY go together');
  for (const k of ['NATS_NKEY_FILE', 'NATS_CREDS_FILE', 'NATS_TLS_CA', 'NATS_TLS_CERT', 'NATS_TLS_KEY'] as const) {
    const file = c[k];
    if (file !== undefined && !readable(file)) problem(k, `${JSON.stringify(file)} is not a readable file`);
  }
});

/** "2..8" as { min: 2, max: 8 } (1 <= min <= max <= 64), or what is wrong with it. */
export function parseWorkerRange(text: string): { min: number; max: number } | string {
  const m = /^\s*(\d+)\s*\.\.\s*(\d+)\s*$/.exec(text);
  const [min, max] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!m || min < 1 || max < min || max > 64) return `"${text}" is not a range of workers; write MIN..MAX with 1 <= MIN <= MAX <= 64, e.g. 2..8`;
  return { min, max };
}

function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

export type Config = z.infer<typeof configSchema>;

const BYTE_UNITS: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** "8GiB", "512 MiB", "1.5GiB" or a plain number of bytes, in bytes; undefined for anything else.
 *  Binary units only: "8GB" means 8 GiB to some tools and 8 000 000 000 bytes to others. */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const unit = BYTE_UNITS[(match[2] || 'b').toLowerCase()];
  const bytes = unit === undefined ? NaN : Math.round(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

function byteSizeSetting(minBytes: number) {
  const example = 'e.g. 8GiB or 512MiB (units B, KiB, MiB, GiB, TiB) or a number of bytes';
  return (text: string, ctx: z.RefinementCtx<string>): number => {
    const bytes = parseByteSize(text);
    if (bytes === undefined) ctx.addIssue({ code: 'custom', message: `"${text}" is not a size; write a number and a unit, ${example}` });
    else if (bytes < minBytes) ctx.addIssue({ code: 'custom', message: `"${text}" is too small; write at least ${minBytes / 1024 ** 2}MiB, ${example}` });
    return bytes !== undefined && bytes >= minBytes ? bytes : z.NEVER;
  };
}

/** Documentation of every setting, for --help and the README. */
export function describeConfig(): { name: string; default: unknown; description: string }[] {
  return Object.entries(configSchema.shape).map(([key, schema]) => ({
    name: ENV_PREFIX + key,
    default: 'defaultValue' in schema.def ? (schema.def as { defaultValue: unknown }).defaultValue : undefined,
    description: schema.description ?? '',
  }));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith(ENV_PREFIX) && value !== undefined) raw[name.slice(ENV_PREFIX.length)] = value;
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? `unknown setting ${i.keys.map((k) => ENV_PREFIX + k).join(', ')}; known: ${Object.keys(configSchema.shape).map((k) => ENV_PREFIX + k).join(', ')}`
        : `${ENV_PREFIX}${i.path.join('.')}: ${i.message}`,
    );
    throw new ShardflowError('CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return parsed.data;
}

/** Folders searched for programs such as nats-server (the PATH of this process). */
export function programSearchPath(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.PATH ?? '').split(':').filter(Boolean);
}

/** The environment handed to child processes (the local cluster's coordinators and workers). */
export function childEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** A process id unique across machines and containers (where every process may be pid 1):
 *  `<role>-<host>-<pid>`, within the 64 characters ids may have. */
export function defaultProcessId(role: string, host = hostname(), pid = process.pid): string {
  return `${role}-${host.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40)}-${pid}`;
}

/** What the deployment's settings give to sinks that leave their database or folder open. */
export function sinkDefaults(config: Config): SinkDefaults {
  return { postgresUrl: config.POSTGRES_URL, filesDir: join(config.DATA_DIR, 'results') };
}
