// The `shardflow` command. Exit codes: 0 success, 1 failure at run time, 2 bad usage or config, 3
// NATS refused access (credentials, TLS, permissions).
import { parseArgs } from 'node:util';
import { checkProcessId, childEnvironment, describeConfig, loadConfig } from '../common/config.ts';
import { isShardflowError, ShardflowError } from '../common/errors.ts';
import { createLogger } from '../common/logger.ts';
import { getJob, jobNames } from '../jobs/catalog.ts';
import { withLocalAdmin } from '../cluster/local-credentials.ts';
import { permissionDenied } from '../nats/connect.ts';
import { CHAOS_HELP, chaosCommand } from './commands/chaos.ts';
import { COMPACT_HELP, compactCommand, DEFAULT_ROWS_PER_FILE } from './commands/compact.ts';
import { controlCommand, DOWN_HELP, KILL_HELP, PAUSE_HELP, pauseCommand, SCALE_HELP } from './commands/control.ts';
import { CONSOLE_HELP, consoleCommand } from './commands/console.ts';
import { COORDINATOR_HELP, coordinatorCommand } from './commands/coordinator.ts';
import { PRODUCE_HELP, produceCommand } from './commands/produce.ts';
import { STATUS_HELP, statusCommand } from './commands/status.ts';
import { UP_HELP, upCommand } from './commands/up.ts';
import { RESULTS_HELP, resultsCommand } from './commands/results.ts';
import { RUN_HELP, runCommand } from './commands/run.ts';
import { SCHEMA_HELP, schemaCommand } from './commands/schema.ts';
import { WORKER_HELP, workerCommand } from './commands/worker.ts';

const HELP = `shardflow — distributed stream processing on NATS JetStream

Usage: shardflow <command> [options]

Commands:
  up           start a whole local cluster (embedded nats-server, coordinators, workers, producer)
  scale        start or stop workers of the local cluster (--workers N)
  kill         kill -9 a worker, a coordinator or the leader of the local cluster
  down         stop the local cluster (checkpoints first)
  run          run a job in this process over generated or NDJSON events, write its results
  worker       run a worker process: partitions of jobs, checkpointed to JetStream KV
  coordinator  run a coordinator (run two: leader and standby)
  status       the leader, coordinators, workers and partitions (--json for scripts)
  console      the web console (http://127.0.0.1:8080 by default; \`up\` starts one)
  pause        stop processing a job (--job NAME): its partitions checkpoint and wait; \`resume\` goes on
  produce      publish a job's generated (or NDJSON) events to its partitions
  results      print a job's results from the cluster as NDJSON
  compact      compact a job's new raw events into Parquet files (the batch layer)
  chaos        break a fresh local cluster on a schedule and check the results are still exact
  jobs         list the jobs that ship with shardflow
  schema       the Avro schema registry in NATS KV: register, list, show, check, config, serve

Run \`shardflow <command> --help\` for a command's options. Every command also takes the connection
flags --nats-url, --nats-user, --nats-password, --nats-token, --nats-nkey-file, --nats-creds-file,
--nats-tls-ca, --nats-tls-cert, --nats-tls-key and --nats-tls, which override the SHARDFLOW_NATS_*
settings below (keep secrets in the environment: flags show in \`ps\`).

Environment:
${describeConfig()
  .map((c) => `  ${c.name.padEnd(34)} ${c.description}${c.default === undefined ? '' : ` (default ${JSON.stringify(c.default)})`}`)
  .join('\n')}`;

/** Connection flags any command takes, each the same as its SHARDFLOW_NATS_* setting (which they
 *  override); `--nats-tls` needs no value. */
const CONNECTION_FLAGS = ['url', 'user', 'password', 'token', 'nkey-file', 'creds-file', 'tls-ca', 'tls-cert', 'tls-key', 'tls'] as const;

/** argv without the connection flags, and the settings they give. */
function connectionFlags(argv: readonly string[]): { rest: string[]; settings: Record<string, string> } {
  const rest: string[] = [];
  const settings: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const name = flag.startsWith('--nats-') ? flag.slice('--nats-'.length) : undefined;
    if (name === undefined || !(CONNECTION_FLAGS as readonly string[]).includes(name)) {
      rest.push(arg);
      continue;
    }
    const setting = `SHARDFLOW_NATS_${name.toUpperCase().replace(/-/g, '_')}`;
    if (name === 'tls' && inline === undefined) {
      settings[setting] = 'true';
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw usage(`${flag} needs a value`);
    settings[setting] = value;
  }
  return { rest, settings };
}

async function main(args: string[]): Promise<number> {
  const { rest: argv, settings } = connectionFlags(args);
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP + '\n');
    return command === undefined ? 2 : 0;
  }
  const config = withLocalAdmin(loadConfig({ ...process.env, ...settings }));
  const role = command === 'worker' || command === 'coordinator' ? command : 'cli';
  const log = createLogger(role, config.LOG_LEVEL, role === 'cli' ? { command } : {});
  switch (command) {
    case 'run': {
      const { values } = parseArgs({
        args: rest,
        options: {
          job: { type: 'string' },
          events: { type: 'string', default: '20000' },
          seed: { type: 'string', default: '1' },
          input: { type: 'string' },
          out: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
      });
      if (values.help) {
        process.stdout.write(RUN_HELP + '\n');
        return 0;
      }
      if (!values.job) throw usage(`--job is required; one of: ${jobNames().join(', ')}`);
      const events = wholeNumber(values.events, '--events');
      const seed = wholeNumber(values.seed, '--seed');
      return runCommand({ job: values.job, events, seed, input: values.input, out: values.out }, config, log);
    }
    case 'worker': {
      const { values } = parseArgs({
        args: rest,
        options: { job: { type: 'string', multiple: true }, partitions: { type: 'string' }, id: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
        strict: true,
      });
      if (values.help) return help(WORKER_HELP);
      if (!values.job?.length) throw usage(`--job is required; one of: ${jobNames().join(', ')}`);
      return workerCommand({ jobs: values.job, partitions: values.partitions, id: idFlag(values.id) }, config, log);
    }
    case 'up': {
      const { values } = parseArgs({
        args: rest,
        options: {
          workers: { type: 'string', default: '5' },
          coordinators: { type: 'string', default: '2' },
          job: { type: 'string', default: 'station-sentiment' },
          rate: { type: 'string', default: '200' },
          tls: { type: 'boolean', default: false },
          hosts: { type: 'string' },
          autoscale: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
      });
      if (values.help) return help(UP_HELP);
      return upCommand(
        {
          workers: wholeNumber(values.workers, '--workers'),
          coordinators: wholeNumber(values.coordinators, '--coordinators'),
          job: values.job,
          rate: wholeNumber(values.rate, '--rate'),
          tls: values.tls,
          ...(values.hosts !== undefined ? { hosts: wholeNumber(values.hosts, '--hosts') } : {}),
          ...(values.autoscale !== undefined ? { autoscale: values.autoscale } : {}),
        },
        config,
        log,
      );
    }
    case 'scale': {
      const { values } = parseArgs({ args: rest, options: { workers: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
      if (values.help) return help(SCALE_HELP);
      if (values.workers === undefined) throw usage('--workers N is required');
      return controlCommand({ op: 'scale', workers: wholeNumber(values.workers, '--workers') }, config);
    }
    case 'kill': {
      const { values, positionals } = parseArgs({ args: rest, options: { id: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
      if (values.help) return help(KILL_HELP);
      const target = positionals[0];
      if (target !== 'worker' && target !== 'coordinator' && target !== 'leader') throw usage('say what to kill: `shardflow kill worker|coordinator|leader [--id ID]`');
      return controlCommand({ op: 'kill', target, id: values.id }, config);
    }
    case 'down': {
      const { values } = parseArgs({ args: rest, options: { help: { type: 'boolean', short: 'h' } }, strict: true });
      if (values.help) return help(DOWN_HELP);
      return controlCommand({ op: 'down' }, config);
    }
    case 'coordinator': {
      const { values } = parseArgs({ args: rest, options: { id: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
      if (values.help) return help(COORDINATOR_HELP);
      return coordinatorCommand({ id: idFlag(values.id) }, config, log);
    }
    case 'console': {
      const { values } = parseArgs({ args: rest, options: { id: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
      if (values.help) return help(CONSOLE_HELP);
      return consoleCommand(config, log);
    }
    case 'pause':
    case 'resume': {
      const { values } = parseArgs({ args: rest, options: { job: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
      if (values.help) return help(PAUSE_HELP);
      if (!values.job) throw usage(`--job is required: the name of a running job (see \`shardflow status\`)`);
      return pauseCommand({ job: values.job, paused: command === 'pause' }, config);
    }
    case 'status': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true });
      if (values.help) return help(STATUS_HELP);
      return statusCommand({ json: values.json === true }, config);
    }
    case 'produce': {
      const { values } = parseArgs({
        args: rest,
        options: {
          job: { type: 'string' },
          events: { type: 'string', default: '10000' },
          seed: { type: 'string', default: '1' },
          rate: { type: 'string', default: '0' },
          input: { type: 'string' },
          start: { type: 'string' },
          id: { type: 'string' },
          live: { type: 'boolean' },
          format: { type: 'string', default: 'json' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
      });
      if (values.help) return help(PRODUCE_HELP);
      if (values.format !== 'json' && values.format !== 'avro') throw usage(`--format must be json or avro, got "${values.format}"`);
      if (!values.job) throw usage(`--job is required; one of: ${jobNames().join(', ')}`);
      return produceCommand(
        {
          job: values.job,
          events: wholeNumber(values.events, '--events'),
          seed: wholeNumber(values.seed, '--seed'),
          rate: wholeNumber(values.rate, '--rate'),
          input: values.input,
          start: values.start === undefined ? undefined : wholeNumber(values.start, '--start'),
          id: values.id,
          live: values.live,
          format: values.format,
        },
        config,
        log,
      );
    }
    case 'results': {
      const { values } = parseArgs({ args: rest, options: { job: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
      if (values.help) return help(RESULTS_HELP);
      if (!values.job) throw usage(`--job is required; one of: ${jobNames().join(', ')}`);
      return resultsCommand({ job: values.job }, config);
    }
    case 'compact': {
      const { values } = parseArgs({
        args: rest,
        options: { job: { type: 'string' }, out: { type: 'string' }, 'rows-per-file': { type: 'string', default: String(DEFAULT_ROWS_PER_FILE) }, help: { type: 'boolean', short: 'h' } },
        strict: true,
      });
      if (values.help) return help(COMPACT_HELP);
      if (!values.job) throw usage(`--job is required; one of: ${jobNames().join(', ')}`);
      const rowsPerFile = wholeNumber(values['rows-per-file'], '--rows-per-file');
      if (rowsPerFile < 1) throw usage('--rows-per-file must be at least 1');
      return compactCommand({ job: values.job, out: values.out, rowsPerFile }, config, log);
    }
    case 'chaos': {
      const { values } = parseArgs({
        args: rest,
        options: {
          scenario: { type: 'string' },
          duration: { type: 'string', default: '60' },
          seed: { type: 'string', default: '1' },
          report: { type: 'string' },
          rate: { type: 'string', default: '200' },
          workers: { type: 'string', default: '5' },
          coordinators: { type: 'string', default: '2' },
          drain: { type: 'string', default: '60' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
      });
      if (values.help) return help(CHAOS_HELP);
      return chaosCommand(
        {
          scenario: values.scenario,
          durationS: wholeNumber(values.duration, '--duration'),
          seed: wholeNumber(values.seed, '--seed'),
          report: values.report,
          rate: wholeNumber(values.rate, '--rate'),
          workers: wholeNumber(values.workers, '--workers'),
          coordinators: wholeNumber(values.coordinators, '--coordinators'),
          drainS: wholeNumber(values.drain, '--drain'),
        },
        config,
        childEnvironment(),
      );
    }
    case 'schema': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: {
          subject: { type: 'string' },
          file: { type: 'string' },
          job: { type: 'string' },
          version: { type: 'string' },
          id: { type: 'string' },
          set: { type: 'string' },
          host: { type: 'string' },
          port: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
        allowPositionals: true,
      });
      if (values.help || positionals.length === 0) return help(SCHEMA_HELP);
      return schemaCommand({ action: positionals[0]!, ...values }, config, log);
    }
    case 'jobs': {
      for (const name of jobNames()) process.stdout.write(`${name.padEnd(24)} ${getJob(name).description}\n`);
      return 0;
    }
    default:
      throw usage(`unknown command "${command}"; run \`shardflow --help\``);
  }
}

function help(text: string): number {
  process.stdout.write(text + '\n');
  return 0;
}

function usage(message: string): ShardflowError {
  return new ShardflowError('CONFIG_INVALID', message);
}

/** The --id of a worker or coordinator, held to the rule of SHARDFLOW_WORKER_ID / SHARDFLOW_COORDINATOR_ID. */
function idFlag(value: string | undefined): string | undefined {
  return value === undefined ? undefined : checkProcessId(value, '--id');
}

function wholeNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw usage(`${flag} must be a whole number, got "${value}"`);
  return n;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (thrown) {
  const err = permissionDenied(thrown) ?? thrown;
  const userError = isShardflowError(err) && err.domain === 'user';
  const accessError = isShardflowError(err) && err.domain === 'access';
  const parseError = err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`shardflow: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = accessError ? 3 : userError || parseError ? 2 : 1;
}
// Open handles (timers, sockets) must not keep a finished command alive; stdout is flushed first.
process.stdout.write('', () => process.exit(process.exitCode ?? 0));
