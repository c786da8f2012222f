// Every way shardflow gets into NATS, each against a nats-server of its own: user and password, token,
// nkey seed file, creds file (JWTs, operator mode), TLS verifying the server, and mutual TLS. With a user
// per role, each role gets in and the server holds it to the role's permissions (nats/roles.ts). A wrong
// or missing credential or certificate is one error with the right code, whose message names the
// setting to fix and holds no secret; through the CLI it is one line and exit status 3.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import { createAccount, createOperator, createUser, type KeyPair } from '@nats-io/nkeys';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalTls, type LocalTlsFiles } from '../cluster/local-tls.ts';
import { startNatsServer, type NatsServerProcess } from '../cluster/nats-server.ts';
import { isShardflowError, type ErrorCode } from '../common/errors.ts';
import { ASSIGNMENT_KEY, COORDINATION_BUCKET, ingestSubject } from '../common/names.ts';
import { ROOT } from '../test/cluster-harness.ts';
import { accessEnvironment, connectNats, type NatsAccess } from './connect.ts';
import { authorizationBlock, rolePermissions, ROLES, type Permissions, type Role, type RoleUser } from './roles.ts';

const JOB = 'sec';
const INGEST = ingestSubject(JOB);
const ASSIGNMENT = `$KV.${COORDINATION_BUCKET}.${ASSIGNMENT_KEY}`;
/** What each role may publish of the two subjects the checks send to (nats/roles.ts says why). */
const MAY_PUBLISH: Record<Role, { ingest: boolean; assignment: boolean }> = {
  admin: { ingest: true, assignment: true },
  coordinator: { ingest: false, assignment: true },
  worker: { ingest: true, assignment: false }, // a job's sources run on workers (sources/)
  producer: { ingest: true, assignment: false },
  viewer: { ingest: false, assignment: false },
};
const NO_CREDENTIAL = 'no credential is set';

const dir = mkdtempSync(join(tmpdir(), 'shardflow-auth-modes-'));
const secret = () => randomBytes(18).toString('base64url');
const servers: NatsServerProcess[] = [];
const starting: Promise<unknown>[] = [];

// 1. user and password
const passwordUsers: RoleUser[] = ROLES.map((role) => ({ user: `${role}-user`, password: secret(), role }));
let passwordServer: NatsServerProcess;
// 2. token
const token = secret();
let tokenServer: NatsServerProcess;
// 3. nkeys: a seed file per role
const nkeyUsers = new Map<Role, { key: KeyPair; file: string }>();
let nkeyServer: NatsServerProcess;
// 4. creds files of user JWTs, issued by an account the server's operator signed
const credsUsers = new Map<Role, { key: KeyPair; jwt: string; file: string }>();
let credsServer: NatsServerProcess;
// 5 and 6. TLS: the server verified by the client; then both ways
let tls: LocalTlsFiles;
let foreignTls: LocalTlsFiles;
let tlsServer: NatsServerProcess;
let mutualTlsServer: NatsServerProcess;

const seedOf = (key: KeyPair) => new TextDecoder().decode(key.getSeed());

function writeSecret(file: string, content: string | Uint8Array): string {
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

/** A nats-server configuration list of subjects. */
const subjects = (list: readonly string[]) => `[${list.map((s) => JSON.stringify(s)).join(', ')}]`;
const permissionsText = (p: Permissions) => `permissions: { publish: { allow: ${subjects(p.publish)} }, subscribe: { allow: ${subjects(p.subscribe)} } }`;

function nkeyAuthorization(): string {
  const lines = [...nkeyUsers].map(([role, { key }]) => `    { nkey: ${JSON.stringify(key.getPublicKey())}, ${permissionsText(rolePermissions(role, [JOB]))} }`);
  return `authorization {\n  users: [\n${lines.join('\n')}\n  ]\n}`;
}

/** An account JWT's limits are taken as written: one left out is 0, and `conn: 0` lets nobody in. */
const UNLIMITED_ACCOUNT = { conn: -1, leaf: -1, subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };

/** Operator mode: the operator's JWT, and the account's preloaded into a memory resolver. Returns
 *  the configuration and the account key that signs the users. */
async function operatorSetup(): Promise<{ config: string; account: KeyPair }> {
  const operator = createOperator();
  const account = createAccount();
  // The server always runs JetStream (cluster/nats-server.ts), which in operator mode will not start
  // without a system account ("system account not setup").
  const system = createAccount();
  const operatorJwt = await encodeOperator('shardflow-test', operator, { system_account: system.getPublicKey() });
  const accountJwt = await encodeAccount('shardflow', account, { limits: UNLIMITED_ACCOUNT }, { signer: operator });
  const systemJwt = await encodeAccount('SYS', system, {}, { signer: operator });
  const preload = [[account, accountJwt], [system, systemJwt]] as const;
  const config = [
    `operator: ${JSON.stringify(operatorJwt)}`,
    'resolver: MEMORY',
    `resolver_preload: {\n${preload.map(([key, jwt]) => `  ${key.getPublicKey()}: ${JSON.stringify(jwt)}`).join('\n')}\n}`,
  ].join('\n');
  return { config, account };
}

/** A creds file (the user's JWT, signed by `account`, and the user's seed) at `file`. */
async function userCreds(file: string, user: KeyPair, account: KeyPair, p: Permissions): Promise<{ key: KeyPair; jwt: string; file: string }> {
  const jwt = await encodeUser(user.getPublicKey(), user, account, { pub: { allow: [...p.publish] }, sub: { allow: [...p.subscribe] } });
  return { key: user, jwt, file: writeSecret(file, fmtCreds(jwt, user)) };
}

beforeAll(async () => {
  mkdirSync(join(dir, 'keys'), { mode: 0o700 });
  for (const role of ROLES) {
    const key = createUser();
    nkeyUsers.set(role, { key, file: writeSecret(join(dir, 'keys', `${role}.nk`), seedOf(key)) });
  }
  const { config: operatorConfig, account } = await operatorSetup();
  for (const role of ROLES) {
    credsUsers.set(role, await userCreds(join(dir, 'keys', `${role}.creds`), createUser(), account, rolePermissions(role, [JOB])));
  }
  tls = ensureLocalTls(join(dir, 'tls'));
  foreignTls = ensureLocalTls(join(dir, 'foreign-tls'));

  const start = (name: string, options: Omit<Parameters<typeof startNatsServer>[0], 'dir'>) => {
    const server = startNatsServer({ dir: join(dir, name), ...options }).then((s) => (servers.push(s), s));
    starting.push(server.catch(() => {}));
    return server;
  };
  [passwordServer, tokenServer, nkeyServer, credsServer, tlsServer, mutualTlsServer] = await Promise.all([
    start('password', { access: authorizationBlock(passwordUsers, [JOB]) }),
    start('token', { access: `authorization { token: ${JSON.stringify(token)} }` }),
    start('nkey', { access: nkeyAuthorization() }),
    start('creds', { access: operatorConfig }),
    start('tls', { tls: { certFile: tls.serverCert, keyFile: tls.serverKey } }),
    start('mutual-tls', { tls: { certFile: tls.serverCert, keyFile: tls.serverKey, caFile: tls.ca, verify: true } }),
  ]);
});

afterAll(async () => {
  // When one server failed to start, the others may still be starting: every one started is stopped.
  await Promise.all(starting);
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function withConnection<T>(access: NatsAccess, use: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connectNats(access, { name: 'auth-modes-test' });
  try {
    return await use(nc);
  } finally {
    await nc.close();
  }
}

/** What the server made of a request to `subject`: refused it (a permissions violation), or let it
 *  through to nobody (no responders: nothing here answers, which is all the check needs). */
async function publishOutcome(nc: NatsConnection, subject: string): Promise<'allowed' | 'refused'> {
  const message = await nc.request(subject, '{}', { timeout: 5_000 }).then(
    () => 'answered',
    (err: unknown) => String((err as Error).message),
  );
  if (/permissions violation/i.test(message)) return 'refused';
  if (/no responders/i.test(message)) return 'allowed';
  throw new Error(`a request to ${subject} ended neither refused nor unanswered: ${message}`);
}

/** Connects as each role and checks that the server holds it to the role's permissions. */
async function expectEachRoleHeldToItsPermissions(accessOf: (role: Role) => NatsAccess): Promise<void> {
  for (const role of ROLES) {
    await withConnection(accessOf(role), async (nc) => {
      const outcome = { ingest: await publishOutcome(nc, INGEST), assignment: await publishOutcome(nc, ASSIGNMENT) };
      const expected = { ingest: MAY_PUBLISH[role].ingest ? 'allowed' : 'refused', assignment: MAY_PUBLISH[role].assignment ? 'allowed' : 'refused' };
      expect(outcome, role).toEqual(expected);
    });
  }
}

/** Connecting with `access` fails with `code`, and the message names `setting` and holds none of `secrets`. */
async function expectRefused(access: NatsAccess, code: ErrorCode, setting: string, secrets: readonly string[]): Promise<void> {
  const err = await connectNats(access, { name: 'auth-modes-test' }).then(
    async (nc) => {
      await nc.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(isShardflowError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  const message = (err as Error).message;
  expect(message).toContain(setting);
  for (const s of secrets) expect(message).not.toContain(s);
}

describe('user and password', () => {
  const accessOf = (role: Role): NatsAccess => {
    const u = passwordUsers.find((x) => x.role === role)!;
    return { servers: passwordServer.url, user: u.user, password: u.password };
  };
  const passwords = passwordUsers.map((u) => u.password);

  it('lets each role in as its own user, held to the permissions of the role', async () => {
    await expectEachRoleHeldToItsPermissions(accessOf);
  });

  it('refuses a wrong password, a password of another user and no credential, naming the settings and no password', async () => {
    const wrong = secret();
    const setting = 'SHARDFLOW_NATS_USER / SHARDFLOW_NATS_PASSWORD';
    await expectRefused({ ...accessOf('producer'), password: wrong }, 'NATS_AUTH_FAILED', setting, [...passwords, wrong]);
    await expectRefused({ ...accessOf('producer'), password: accessOf('admin').password }, 'NATS_AUTH_FAILED', setting, passwords);
    await expectRefused({ servers: passwordServer.url }, 'NATS_AUTH_FAILED', NO_CREDENTIAL, passwords);
  });
});

describe('token', () => {
  it('lets the token in', async () => {
    await withConnection({ servers: tokenServer.url, token }, (nc) => nc.flush());
  });

  it('refuses a wrong token and no credential, naming the setting and no token', async () => {
    const wrong = secret();
    await expectRefused({ servers: tokenServer.url, token: wrong }, 'NATS_AUTH_FAILED', 'SHARDFLOW_NATS_TOKEN', [token, wrong]);
    await expectRefused({ servers: tokenServer.url }, 'NATS_AUTH_FAILED', NO_CREDENTIAL, [token]);
  });

  it('makes the CLI print one line naming the setting, without the token, and exit with status 3', () => {
    const wrong = secret();
    const cli = spawnSync(process.execPath, [join(ROOT, 'bin', 'shardflow.mjs'), 'status'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...accessEnvironment({ servers: tokenServer.url, token: wrong }) },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(cli.status, cli.stderr).toBe(3);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli.stderr).toMatch(/refused the credentials \(SHARDFLOW_NATS_TOKEN\)/);
    expect(cli.stderr + cli.stdout).not.toContain(wrong);
    expect(cli.stderr + cli.stdout).not.toContain(token);
  });
});

describe('nkey seed file', () => {
  const accessOf = (role: Role): NatsAccess => ({ servers: nkeyServer.url, nkeyFile: nkeyUsers.get(role)!.file });
  const seeds = () => [...nkeyUsers.values()].map((u) => seedOf(u.key));

  it('lets each role in with its own nkey, held to the permissions of the role', async () => {
    await expectEachRoleHeldToItsPermissions(accessOf);
  });

  it('refuses an nkey the server does not know and no credential, naming the setting and no seed', async () => {
    const stranger = createUser();
    const file = writeSecret(join(dir, 'keys', 'stranger.nk'), seedOf(stranger));
    await expectRefused({ servers: nkeyServer.url, nkeyFile: file }, 'NATS_AUTH_FAILED', 'SHARDFLOW_NATS_NKEY_FILE', [...seeds(), seedOf(stranger)]);
    await expectRefused({ servers: nkeyServer.url }, 'NATS_AUTH_FAILED', NO_CREDENTIAL, seeds());
  });

  it('names the setting of a seed file that is missing, or that holds no seed', async () => {
    await expectRefused({ servers: nkeyServer.url, nkeyFile: join(dir, 'keys', 'missing.nk') }, 'CONFIG_INVALID', 'SHARDFLOW_NATS_NKEY_FILE', []);
    const notSeed = writeSecret(join(dir, 'keys', 'not-a-seed.nk'), 'UAAAAAthis-is-a-public-key-not-a-seed');
    await expectRefused({ servers: nkeyServer.url, nkeyFile: notSeed }, 'CONFIG_INVALID', 'SHARDFLOW_NATS_NKEY_FILE', []);
    const notCreds = writeSecret(join(dir, 'keys', 'not.creds'), 'user: alice\npassword: nope\n');
    await expectRefused({ servers: nkeyServer.url, credsFile: notCreds }, 'CONFIG_INVALID', 'SHARDFLOW_NATS_CREDS_FILE', ['nope']);
  });
});

describe('creds file (JWT, operator mode)', () => {
  const accessOf = (role: Role): NatsAccess => ({ servers: credsServer.url, credsFile: credsUsers.get(role)!.file });
  const seeds = () => [...credsUsers.values()].map((u) => seedOf(u.key));

  it('lets each role in with its own user JWT, held to the permissions of the role', async () => {
    await expectEachRoleHeldToItsPermissions(accessOf);
  });

  it('gives the account JetStream', async () => {
    await withConnection(accessOf('admin'), async (nc) => {
      const info = await (await jetstreamManager(nc)).getAccountInfo();
      expect(info.limits.max_streams).toBe(-1);
    });
  });

  it('refuses a user of an account the operator never signed, a JWT without its own seed and no credential, naming the setting and no seed', async () => {
    const stranger = createUser();
    const { file: strangerFile } = await userCreds(join(dir, 'keys', 'stranger.creds'), stranger, createAccount(), rolePermissions('admin', [JOB]));
    await expectRefused({ servers: credsServer.url, credsFile: strangerFile }, 'NATS_AUTH_FAILED', 'SHARDFLOW_NATS_CREDS_FILE', [...seeds(), seedOf(stranger)]);

    // The admin's JWT (not a secret: the server sees it at every connect) with a seed that is not its own.
    const thief = createUser();
    const stolenFile = writeSecret(join(dir, 'keys', 'stolen.creds'), fmtCreds(credsUsers.get('admin')!.jwt, thief));
    await expectRefused({ servers: credsServer.url, credsFile: stolenFile }, 'NATS_AUTH_FAILED', 'SHARDFLOW_NATS_CREDS_FILE', [...seeds(), seedOf(thief)]);

    await expectRefused({ servers: credsServer.url }, 'NATS_AUTH_FAILED', NO_CREDENTIAL, seeds());
  });
});

describe('TLS verifying the server', () => {
  it('connects with the CA that signed the server certificate', async () => {
    await withConnection({ servers: tlsServer.url, tlsCa: tls.ca }, async (nc) => {
      await nc.flush();
      expect(nc.info?.tls_required).toBe(true);
    });
  });

  it('refuses a server it cannot verify: with no TLS setting, without the CA, or with another CA', async () => {
    await expectRefused({ servers: tlsServer.url }, 'NATS_TLS_FAILED', 'SHARDFLOW_NATS_TLS_CA', []);
    await expectRefused({ servers: tlsServer.url, tls: true }, 'NATS_TLS_FAILED', 'SHARDFLOW_NATS_TLS_CA', []);
    await expectRefused({ servers: tlsServer.url, tlsCa: foreignTls.ca }, 'NATS_TLS_FAILED', 'SHARDFLOW_NATS_TLS_CA', []);
  });
});

describe('mutual TLS', () => {
  it('connects with a client certificate signed by the CA the server trusts', async () => {
    await withConnection({ servers: mutualTlsServer.url, tlsCa: tls.ca, tlsCert: tls.clientCert, tlsKey: tls.clientKey }, (nc) => nc.flush());
  });

  it('is refused without a client certificate, or with one the server does not trust, naming the certificate settings', async () => {
    await expectRefused({ servers: mutualTlsServer.url, tlsCa: tls.ca }, 'NATS_TLS_FAILED', 'SHARDFLOW_NATS_TLS_CERT', []);
    await expectRefused({ servers: mutualTlsServer.url, tlsCa: tls.ca, tlsCert: foreignTls.clientCert, tlsKey: foreignTls.clientKey }, 'NATS_TLS_FAILED', 'SHARDFLOW_NATS_TLS_CERT', []);
  });
});
