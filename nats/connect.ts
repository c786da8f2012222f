// How every process of shardflow reaches NATS: the servers, one way to authenticate (user and
// password, token, nkey seed or creds file) and TLS (a CA to verify the servers, a client certificate
// for mutual TLS, or TLS merely required). Settings come from config (SHARDFLOW_NATS_*); the failures
// a person can fix (a wrong credential, a certificate the server refuses, no server at all) become one
// line that names the setting to look at. Secrets are read here and go nowhere else: not into logs,
// not into error messages (URLs are shown without their password).
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import type { Config } from '../common/config.ts';
import { ShardflowError } from '../common/errors.ts';
import { NATS_MAX_PINGS_OUT, NATS_PING_INTERVAL_MS, NATS_RECONNECT_WAIT_MS } from '../common/timing.ts';

/** Where NATS is and how to get in: what a process needs, taken from config or built by a caller. */
export interface NatsAccess {
  /** Server URLs, comma-separated. */
  readonly servers: string;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  readonly token?: string | undefined;
  /** File holding an nkey seed. */
  readonly nkeyFile?: string | undefined;
  /** Creds file: a user JWT and its seed. */
  readonly credsFile?: string | undefined;
  readonly tlsCa?: string | undefined;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  /** Refuse a server that does not offer TLS. */
  readonly tls?: boolean | undefined;
}

type NatsSettings = Pick<Config, 'NATS_URL' | 'NATS_USER' | 'NATS_PASSWORD' | 'NATS_TOKEN' | 'NATS_NKEY_FILE' | 'NATS_CREDS_FILE' | 'NATS_TLS_CA' | 'NATS_TLS_CERT' | 'NATS_TLS_KEY' | 'NATS_TLS'>;

export function natsAccess(config: NatsSettings): NatsAccess {
  return {
    servers: config.NATS_URL,
    user: config.NATS_USER,
    password: config.NATS_PASSWORD,
    token: config.NATS_TOKEN,
    nkeyFile: config.NATS_NKEY_FILE,
    credsFile: config.NATS_CREDS_FILE,
    tlsCa: config.NATS_TLS_CA,
    tlsCert: config.NATS_TLS_CERT,
    tlsKey: config.NATS_TLS_KEY,
    tls: config.NATS_TLS,
  };
}

/** The same access as environment settings, for a child process (the local cluster's workers). */
export function accessEnvironment(access: NatsAccess): Record<string, string> {
  const entries: [string, string | undefined][] = [
    ['SHARDFLOW_NATS_URL', access.servers],
    ['SHARDFLOW_NATS_USER', access.user],
    ['SHARDFLOW_NATS_PASSWORD', access.password],
    ['SHARDFLOW_NATS_TOKEN', access.token],
    ['SHARDFLOW_NATS_NKEY_FILE', access.nkeyFile],
    ['SHARDFLOW_NATS_CREDS_FILE', access.credsFile],
    ['SHARDFLOW_NATS_TLS_CA', access.tlsCa],
    ['SHARDFLOW_NATS_TLS_CERT', access.tlsCert],
    ['SHARDFLOW_NATS_TLS_KEY', access.tlsKey],
    ['SHARDFLOW_NATS_TLS', access.tls ? 'true' : undefined],
  ];
  return Object.fromEntries(entries.filter((e): e is [string, string] => e[1] !== undefined));
}

/** Which setting holds the credential in use, for messages. */
function credentialSetting(access: NatsAccess): string {
  if (access.user !== undefined) return 'SHARDFLOW_NATS_USER / SHARDFLOW_NATS_PASSWORD';
  if (access.token !== undefined) return 'SHARDFLOW_NATS_TOKEN';
  if (access.nkeyFile !== undefined) return 'SHARDFLOW_NATS_NKEY_FILE';
  if (access.credsFile !== undefined) return 'SHARDFLOW_NATS_CREDS_FILE';
  return 'no credential is set: SHARDFLOW_NATS_USER / SHARDFLOW_NATS_PASSWORD, SHARDFLOW_NATS_TOKEN, SHARDFLOW_NATS_NKEY_FILE or SHARDFLOW_NATS_CREDS_FILE';
}

/** nats.js options for the access: servers, authentication and TLS. Files are read now, so a file
 *  that went missing since config was loaded is named here. */
export function connectionOptions(access: NatsAccess): ConnectionOptions {
  const read = (file: string, setting: string): Uint8Array => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ShardflowError('CONFIG_INVALID', `${setting}: cannot read ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const options: ConnectionOptions = { servers: access.servers.split(',').map((s) => s.trim()).filter(Boolean) };
  if (access.user !== undefined) {
    options.user = access.user;
    options.pass = access.password;
  } else if (access.token !== undefined) {
    options.token = access.token;
  } else if (access.nkeyFile !== undefined) {
    const seed = new TextDecoder().decode(read(access.nkeyFile, 'SHARDFLOW_NATS_NKEY_FILE')).trim();
    // A file of another kind is the user's mistake, not the server's refusal: say so before connecting.
    if (!/^S[A-Z][A-Z2-7]{56}$/.test(seed)) throw new ShardflowError('CONFIG_INVALID', `SHARDFLOW_NATS_NKEY_FILE: ${JSON.stringify(access.nkeyFile)} does not hold an nkey seed (one line of 58 characters starting with S)`);
    options.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  } else if (access.credsFile !== undefined) {
    const creds = read(access.credsFile, 'SHARDFLOW_NATS_CREDS_FILE');
    const text = new TextDecoder().decode(creds);
    if (!/-----BEGIN NATS USER JWT-----/.test(text) || !/-----BEGIN USER NKEY SEED-----/.test(text)) {
      throw new ShardflowError('CONFIG_INVALID', `SHARDFLOW_NATS_CREDS_FILE: ${JSON.stringify(access.credsFile)} is not a NATS creds file (a user JWT and its seed, as nsc writes it)`);
    }
    options.authenticator = credsAuthenticator(creds);
  }
  if (access.tls || access.tlsCa !== undefined || access.tlsCert !== undefined) {
    options.tls = {
      ...(access.tlsCa !== undefined ? { caFile: access.tlsCa } : {}),
      ...(access.tlsCert !== undefined ? { certFile: access.tlsCert, keyFile: access.tlsKey } : {}),
    };
  }
  return options;
}

export interface ConnectOptions {
  /** Shown by the server (`nats server report connections`) and in its log. */
  name: string;
  /** Reconnect for ever, quickly (workers, coordinators); else nats.js's defaults (CLI commands). */
  persistent?: boolean;
}

/** Connects, turning the failures a person can fix into one clear line (NATS_AUTH_FAILED,
 *  NATS_TLS_FAILED, NATS_UNREACHABLE). */
export async function connectNats(access: NatsAccess, options: ConnectOptions): Promise<NatsConnection> {
  const base = connectionOptions(access);
  try {
    if (base.tls !== undefined) await checkTlsAccepted(base, options.name);
    return await connect({
      ...base,
      name: options.name,
      ...(options.persistent ? { maxReconnectAttempts: -1, reconnectTimeWait: NATS_RECONNECT_WAIT_MS, pingInterval: NATS_PING_INTERVAL_MS, maxPingOut: NATS_MAX_PINGS_OUT } : {}),
    });
  } catch (err) {
    throw explainConnectFailure(err, access);
  }
}

/**
 * Opens and closes one connection that does not reconnect, so that a server refusing the client's
 * certificate is reported at once, with its reason. From the client's side a TLS 1.3 handshake is done
 * before the server has checked the client certificate; the server then sends an alert (or resets) and
 * closes. nats.js 3.4 does not end its first connect when the connection closes during it while it
 * would reconnect: it waits out its whole timeout (20 s) and reports only "timeout". Without
 * reconnecting it fails at once with the TLS alert or the reset.
 */
async function checkTlsAccepted(base: ConnectionOptions, name: string): Promise<void> {
  const probe = await connect({ ...base, name: `${name} (TLS check)`, reconnect: false });
  await probe.close();
}

/** The error a failed connect deserves: which setting to look at, with no secret in it. */
export function explainConnectFailure(err: unknown, access: NatsAccess): ShardflowError {
  const where = redactUrl(access.servers);
  const text = `${(err as Error)?.message ?? String(err)} ${String((err as { cause?: unknown })?.cause ?? '')}`;
  const cause = { cause: err };
  if (/authorization violation|authentication|user authentication|permissions? violation|nkey|jwt|credentials/i.test(text)) {
    return new ShardflowError('NATS_AUTH_FAILED', `NATS at ${where} refused the credentials (${credentialSetting(access)}): ${firstLine(text)}`, cause);
  }
  if (/tls|ssl|certificate|self[- ]signed|handshake|CERT_|UNABLE_TO_VERIFY/i.test(text)) {
    const settings = access.tlsCert !== undefined ? 'SHARDFLOW_NATS_TLS_CA, SHARDFLOW_NATS_TLS_CERT / SHARDFLOW_NATS_TLS_KEY' : 'SHARDFLOW_NATS_TLS_CA (and SHARDFLOW_NATS_TLS_CERT / SHARDFLOW_NATS_TLS_KEY if the server requires client certificates)';
    return new ShardflowError('NATS_TLS_FAILED', `TLS with NATS at ${where} failed (${settings}): ${firstLine(text)}`, cause);
  }
  // A server that refuses the client certificate (none, or one not signed by the CA it trusts) closes
  // the connection after the handshake: the client sees a reset, or (when it would reconnect, see
  // checkTlsAccepted) only a timeout.
  const usesTls = access.tls === true || access.tlsCa !== undefined || access.tlsCert !== undefined;
  if (usesTls && /ECONNRESET|EPIPE/.test(text)) {
    return new ShardflowError('NATS_TLS_FAILED', `NATS at ${where} closed the connection after the TLS handshake: ${clientCertificateAdvice(access)}: ${firstLine(text)}`, cause);
  }
  if (usesTls && access.tlsCert === undefined && /timeout/i.test(text)) {
    return new ShardflowError('NATS_TLS_FAILED', `NATS at ${where} did not answer after the TLS handshake: ${clientCertificateAdvice(access)}`, cause);
  }
  return new ShardflowError('NATS_UNREACHABLE', `cannot reach NATS at ${where} (SHARDFLOW_NATS_URL): ${firstLine(text)}`, cause);
}

function clientCertificateAdvice(access: NatsAccess): string {
  return access.tlsCert === undefined
    ? 'it probably requires a client certificate (SHARDFLOW_NATS_TLS_CERT / SHARDFLOW_NATS_TLS_KEY)'
    : 'it probably refused the client certificate (SHARDFLOW_NATS_TLS_CERT / SHARDFLOW_NATS_TLS_KEY: is it signed by a CA the server trusts, and still valid?)';
}

function firstLine(text: string): string {
  return redactUrl(text.trim().split('\n')[0]!).slice(0, 300);
}

/** A URL (or text holding URLs) with any password replaced by `***`: nats://alice:***@host:4222. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^@\s/]*@/gi, '$1***@');
}

/** A NATS "Permissions Violation" as the error a person reads: which role's limits were hit. */
export function permissionDenied(err: unknown, access?: NatsAccess): ShardflowError | undefined {
  const text = (err as Error)?.message ?? '';
  if (!/permissions? violation/i.test(text)) return undefined;
  const who = access?.user !== undefined ? `user ${access.user}` : 'the credential in use';
  return new ShardflowError('NATS_PERMISSION_DENIED', `NATS refused it to ${who}: ${firstLine(text)} (the role of the credential does not allow this; see "Security" in the README)`, { cause: err });
}
