// Who may publish and subscribe to what: the roles of a shardflow cluster as NATS subject
// permissions (allow lists: everything else is refused by the server). They are derived from the
// names in common/names.ts, so a renamed subject cannot leave a permission behind.
//
//   producer     publishes a job's events: the ingest subject, and events or batches straight to a
//                partition (what JobProducer and `shardflow produce` do); never routed input, idle
//                markers, checkpoints, results or control.
//   worker       reads the input, writes routed input and markers, its sources' events (ingest), dead letters and late events,
//                checkpoints, results, and its own heartbeat (with a user per worker, only its own);
//                never the leader record or the assignment.
//   coordinator  the control plane: leader record, assignment, coordinator heartbeats.
//   viewer       reads (status, results, the console): JetStream reads only, no publish of data.
//   admin        everything: the CLI's control commands (scale, kill, down), compaction, setup.
//
// Everyone may subscribe to `_INBOX.>`, where replies come back (the NATS convention for request
// and reply; JetStream's answers and pull deliveries arrive there).
import { ShardflowError } from '../common/errors.ts';
import {
  CHECKPOINTS_BUCKET,
  COORDINATION_BUCKET,
  deadLetterStream,
  deadLetterSubjects,
  ingestStream,
  ingestSubject,
  jobKey,
  inputStream,
  lateStream,
  lateSubjects,
  resultsBucket,
  SCHEMAS_BUCKET,
  workerKey,
} from '../common/names.ts';

export const ROLES = ['admin', 'coordinator', 'worker', 'producer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface Permissions {
  /** Subjects the role may publish to. */
  readonly publish: readonly string[];
  /** Subjects the role may subscribe to. */
  readonly subscribe: readonly string[];
}

/** The jobs whose subjects the permissions name, or every job (`*` in place of a job's name). */
export type JobScope = readonly string[] | 'any';

const INBOX = '_INBOX.>';

/** What every reader needs of the JetStream API: stream and consumer info, direct and stored message
 *  reads, and ephemeral (ordered) consumers to read streams and buckets with. */
const READ_API = [
  '$JS.API.INFO',
  '$JS.API.STREAM.INFO.*',
  '$JS.API.STREAM.NAMES',
  '$JS.API.STREAM.LIST',
  '$JS.API.STREAM.MSG.GET.*',
  '$JS.API.DIRECT.GET.>',
  '$JS.API.CONSUMER.CREATE.>',
  '$JS.API.CONSUMER.INFO.>',
  '$JS.API.CONSUMER.MSG.NEXT.>',
  '$JS.API.CONSUMER.DELETE.>',
  '$JS.API.CONSUMER.NAMES.*',
  '$JS.API.CONSUMER.LIST.*',
];

const kvStream = (bucket: string) => `KV_${bucket}`;
const kvSubjects = (bucket: string, key = '>') => `$KV.${bucket}.${key}`;

function eachJob<T>(jobs: JobScope, of: (job: string) => T[]): T[] {
  return jobs === 'any' ? of('*') : jobs.flatMap(of);
}

/** Streams (and bucket streams) a worker creates and keeps in line with its jobs. */
function workerStreams(jobs: JobScope): string[] {
  if (jobs === 'any') return ['*'];
  return [...jobs.flatMap((j) => [inputStream(j), ingestStream(j), deadLetterStream(j), lateStream(j), kvStream(resultsBucket(j))]), kvStream(CHECKPOINTS_BUCKET)];
}

/**
 * The permissions of a role over `jobs`. `workerId` narrows a worker to its own heartbeat (a user per
 * worker); without it any worker credential may write any worker's heartbeat.
 */
export function rolePermissions(role: Role, jobs: JobScope, workerId?: string): Permissions {
  switch (role) {
    case 'admin':
      return { publish: ['>'], subscribe: ['>'] };
    case 'viewer':
      return { publish: READ_API, subscribe: [INBOX] };
    case 'producer':
      return {
        publish: [
          ...eachJob(jobs, (j) => [ingestSubject(j), `shardflow.in.${j}.*.event`, `shardflow.in.${j}.*.batch`]),
          '$JS.API.INFO',
          '$JS.API.STREAM.INFO.*',
          // Reading schemas from the registry (an Avro producer encodes with its subject's latest).
          `$JS.API.STREAM.MSG.GET.${kvStream(SCHEMAS_BUCKET)}`,
          `$JS.API.DIRECT.GET.${kvStream(SCHEMAS_BUCKET)}.>`,
        ],
        subscribe: [INBOX],
      };
    case 'coordinator':
      return {
        publish: [
          kvSubjects(COORDINATION_BUCKET),
          ...READ_API,
          `$JS.API.STREAM.CREATE.${kvStream(COORDINATION_BUCKET)}`,
          `$JS.API.STREAM.UPDATE.${kvStream(COORDINATION_BUCKET)}`,
        ],
        subscribe: [INBOX],
      };
    case 'worker': {
      const streams = workerStreams(jobs);
      return {
        publish: [
          ...eachJob(jobs, (j) => [`shardflow.in.${j}.*.routed`, `shardflow.in.${j}.*.marker`, deadLetterSubjects(j), lateSubjects(j), kvSubjects(resultsBucket(j))]),
          // The job's sources (sources/) run on workers and publish what they read as a producer would.
          ...eachJob(jobs, (j) => [ingestSubject(j)]),
          kvSubjects(CHECKPOINTS_BUCKET),
          kvSubjects(COORDINATION_BUCKET, workerId === undefined ? workerKey('*') : workerKey(workerId)),
          ...eachJob(jobs, (j) => [kvSubjects(COORDINATION_BUCKET, jobKey(j))]),
          ...READ_API,
          ...streams.map((s) => `$JS.API.STREAM.CREATE.${s}`),
          ...streams.map((s) => `$JS.API.STREAM.UPDATE.${s}`),
          // A worker may find the control plane's bucket missing (it started before any coordinator).
          `$JS.API.STREAM.CREATE.${kvStream(COORDINATION_BUCKET)}`,
          // Checkpoint chunks are removed by purging their subjects.
          `$JS.API.STREAM.PURGE.${kvStream(CHECKPOINTS_BUCKET)}`,
        ],
        subscribe: [INBOX],
      };
    }
  }
}

export interface RoleUser {
  readonly user: string;
  readonly password: string;
  readonly role: Role;
  /** A worker user of one worker only. */
  readonly workerId?: string;
}

/**
 * A user whose password the configuration names instead of holding: nats-server replaces an unquoted
 * `$NAME` with the environment variable NAME when it loads the file (and refuses to start while it is
 * unset), so a configuration of such users holds no secret and can be committed.
 */
export interface RoleUserFromEnvironment extends Omit<RoleUser, 'password'> {
  /** The environment variable that holds the password. */
  readonly passwordVariable: string;
}

export interface AuthorizationOptions {
  /** `line` (the default): a user per line, for a file only nats-server reads. `block`: a setting and a
   *  subject per line, for a file people review and diff. */
  readonly layout?: 'line' | 'block';
}

/** What nats-server reads as a variable reference: anything else after `$` would be cut short or refused. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function passwordValue(u: RoleUser | RoleUserFromEnvironment): string {
  if (!('passwordVariable' in u)) return JSON.stringify(u.password);
  if (!VARIABLE_NAME.test(u.passwordVariable)) {
    throw new ShardflowError('CONFIG_INVALID', `the password variable of NATS user ${u.user}, ${JSON.stringify(u.passwordVariable)}, is not a variable name: use letters, digits and "_", not starting with a digit`);
  }
  // Unquoted: in quotes nats-server would take `$NAME` as the password itself.
  return `$${u.passwordVariable}`;
}

/** The `authorization` block of a nats-server configuration for these users. */
export function authorizationBlock(users: readonly (RoleUser | RoleUserFromEnvironment)[], jobs: JobScope, options: AuthorizationOptions = {}): string {
  const quoted = (subjects: readonly string[]) => subjects.map((s) => JSON.stringify(s));
  if (options.layout === 'block') {
    const allow = (subjects: readonly string[]) => ['allow: [', ...quoted(subjects).map((s) => `  ${s}`), ']'];
    const blocks = users.map((u) => {
      const p = rolePermissions(u.role, jobs, u.workerId);
      const lines = [
        '{',
        `  user: ${JSON.stringify(u.user)}`,
        `  password: ${passwordValue(u)}`,
        '  permissions: {',
        ...['publish: {', ...allow(p.publish).map((l) => `  ${l}`), '}'].map((l) => `    ${l}`),
        ...['subscribe: {', ...allow(p.subscribe).map((l) => `  ${l}`), '}'].map((l) => `    ${l}`),
        '  }',
        '}',
      ];
      return lines.map((l) => `    ${l}`).join('\n');
    });
    return `authorization {\n  users: [\n${blocks.join('\n')}\n  ]\n}`;
  }
  const list = (subjects: readonly string[]) => `[${quoted(subjects).join(', ')}]`;
  const lines = users.map((u) => {
    const p = rolePermissions(u.role, jobs, u.workerId);
    return `    { user: ${JSON.stringify(u.user)}, password: ${passwordValue(u)}, permissions: { publish: { allow: ${list(p.publish)} }, subscribe: { allow: ${list(p.subscribe)} } } }`;
  });
  return `authorization {\n  users: [\n${lines.join('\n')}\n  ]\n}`;
}
