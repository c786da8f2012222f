// One registry of error codes for the whole project. Every error that crosses a module boundary is a
// ShardflowError with a stable code, a domain (whose fault: the user's input or config, an external
// system, or a bug of ours) and whether retrying can help.

/** `access`: NATS refused who we are or what we asked (a credential, a certificate, a permission). */
export type ErrorDomain = 'user' | 'access' | 'external' | 'internal';

interface ErrorCodeInfo {
  readonly domain: ErrorDomain;
  readonly retryable: boolean;
  readonly summary: string;
}

export const ERROR_CODES = {
  CONFIG_INVALID: { domain: 'user', retryable: false, summary: "the configuration, or a command's options, are invalid" },
  JOB_INVALID: { domain: 'user', retryable: false, summary: 'job definition is invalid' },
  JOB_UNKNOWN: { domain: 'user', retryable: false, summary: 'no job with that name' },
  DURATION_INVALID: { domain: 'user', retryable: false, summary: 'a duration could not be parsed' },
  SNAPSHOT_INCOMPATIBLE: {
    domain: 'user',
    retryable: false,
    summary: 'a snapshot was taken by a different job definition',
  },
  SNAPSHOT_CORRUPT: { domain: 'internal', retryable: false, summary: 'a snapshot could not be decoded' },
  AGGREGATE_FAILED: { domain: 'user', retryable: false, summary: 'a user aggregate threw' },
  ACTOR_STOPPED: { domain: 'internal', retryable: false, summary: 'the actor is stopped' },
  ACTOR_MAILBOX_FULL: { domain: 'internal', retryable: true, summary: "the actor's mailbox is full" },
  ACTOR_ESCALATED: { domain: 'internal', retryable: false, summary: 'an actor kept failing and was stopped' },
  ACTOR_FAILED: { domain: 'internal', retryable: false, summary: 'the actor threw while handling the request' },
  ACTOR_NAME_TAKEN: { domain: 'internal', retryable: false, summary: 'a sibling actor already has that name' },
  ACTOR_ARGUMENT_INVALID: {
    domain: 'user',
    retryable: false,
    summary: 'an actor name, spawn option or request timeout is invalid',
  },
  REQUEST_TIMEOUT: { domain: 'internal', retryable: true, summary: 'a request got no reply in time' },
  PARTITION_FENCED: {
    domain: 'internal',
    retryable: false,
    summary: 'another worker took over the partition; this one must stop it',
  },
  CHECKPOINT_CORRUPT: { domain: 'internal', retryable: false, summary: 'a stored checkpoint is incomplete' },
  SINK_FAILED: { domain: 'external', retryable: true, summary: 'the sink is unavailable; the write is tried again' },
  SINK_REFUSED: { domain: 'external', retryable: false, summary: 'the sink refused the write for a reason retrying cannot fix (permissions, a table of another shape)' },
  NATS_AUTH_FAILED: { domain: 'access', retryable: false, summary: 'NATS refused the credentials (or none were given and it requires some)' },
  NATS_TLS_FAILED: { domain: 'access', retryable: false, summary: 'TLS with NATS failed: a certificate was refused or could not be verified, or one side requires TLS the other lacks' },
  NATS_PERMISSION_DENIED: { domain: 'access', retryable: false, summary: "NATS refused a publish or subscribe that the credential's role does not allow" },
  NATS_UNREACHABLE: { domain: 'external', retryable: true, summary: 'no NATS server answered at the configured URLs' },
  NATS_SERVER_MISSING: { domain: 'external', retryable: false, summary: 'nats-server is not installed' },
  NATS_SERVER_FAILED: { domain: 'external', retryable: true, summary: 'a nats-server started here exited, or it (or its cluster) was not ready in time; its log says why' },
  PROCESS_FAILED: { domain: 'internal', retryable: true, summary: 'a coordinator or worker of the local cluster exited at start, or the cluster did not come up in time; its log says why' },
  PROCESS_UNAVAILABLE: { domain: 'external', retryable: true, summary: 'no process of the local cluster fits the request right now (no leader elected yet, every worker restarting)' },
  FEED_FAILED: { domain: 'external', retryable: true, summary: "a partition's input stopped arriving or ended; the partition resumes from its checkpoint" },
  PUBLISH_FAILED: { domain: 'external', retryable: true, summary: 'JetStream did not acknowledge a published message as stored' },
  CHECKPOINT_FAILED: { domain: 'external', retryable: true, summary: 'a checkpoint could not be stored; the next one covers the same events' },
  STREAM_MISSING: { domain: 'user', retryable: false, summary: "a job's stream does not exist on this NATS server" },
  COMPACTION_BUSY: { domain: 'external', retryable: true, summary: "another compaction of the job is running on the same folder" },
  LAKE_CORRUPT: { domain: 'internal', retryable: false, summary: "a job's lake folder holds files that contradict each other" },
  SCHEMA_INVALID: { domain: 'user', retryable: false, summary: 'a schema given to the registry is not a valid Avro schema' },
  SCHEMA_INCOMPATIBLE: { domain: 'user', retryable: false, summary: "a schema breaks its subject's compatibility level" },
  SUBJECT_NOT_FOUND: { domain: 'user', retryable: false, summary: 'the schema registry holds no such subject' },
  VERSION_NOT_FOUND: { domain: 'user', retryable: false, summary: 'the subject has no such version' },
  SCHEMA_NOT_FOUND: { domain: 'user', retryable: false, summary: 'the schema registry holds no such schema (by id, or under the subject)' },
  REGISTRY_BUSY: { domain: 'external', retryable: true, summary: 'concurrent registrations kept changing the subject; try again' },
  CHAOS_UNVERIFIABLE: { domain: 'external', retryable: true, summary: "a chaos run could not read the cluster's results to judge them" },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ShardflowError extends Error {
  readonly code: ErrorCode;
  readonly domain: ErrorDomain;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ShardflowError';
    this.code = code;
    this.domain = ERROR_CODES[code].domain;
    this.retryable = ERROR_CODES[code].retryable;
  }
}

export function isShardflowError(err: unknown, code?: ErrorCode): err is ShardflowError {
  return err instanceof ShardflowError && (code === undefined || err.code === code);
}

/** A message for any thrown value, for logs and dead-letter reasons. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
