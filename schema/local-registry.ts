// The schema registry of `shardflow up`: the REST API served by the launcher on SHARDFLOW_REGISTRY_PORT
// (8081) with the admin credential, its write token kept in <data dir>/auth/registry-token (0600,
// made once, reused), and the schema of an Avro job registered under its subject, so that
// `shardflow produce --format avro` and Kafka clients work at once. A port already taken only costs
// the REST API, never the cluster.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../common/logger.ts';
import type { Job } from '../jobs/define-job.ts';
import { startRegistryServer, type RegistryServer } from './registry-http.ts';
import { parseSchemaText, SchemaRegistry } from './schema-registry.ts';

export interface LocalRegistryOptions {
  readonly nc: NatsConnection;
  readonly authDir: string;
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  readonly replicas: number;
  readonly job: Job<unknown>;
  readonly log: Logger;
}

export interface LocalRegistry {
  /** Undefined when the port was taken. */
  readonly server: RegistryServer | undefined;
  readonly tokenFile: string | undefined;
  /** What `up` prints about it. */
  readonly summary: string;
}

export async function startLocalRegistry(options: LocalRegistryOptions): Promise<LocalRegistry> {
  const registry = await SchemaRegistry.open(options.nc, { create: true, replicas: options.replicas });
  let registered = '';
  if (options.job.avro?.schema) {
    const r = await registry.register(options.job.avro.subject, parseSchemaText(JSON.stringify(options.job.avro.schema)));
    registered = `; ${r.subject} version ${r.version} is schema id ${r.id}`;
  }
  const tokenFile = options.token === undefined ? join(options.authDir, 'registry-token') : undefined;
  let token = options.token;
  if (tokenFile) {
    if (!existsSync(tokenFile)) writeFileSync(tokenFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
    token = readFileSync(tokenFile, 'utf8').trim();
  }
  try {
    const server = await startRegistryServer(registry, { host: options.host, port: options.port, token: token!, log: options.log });
    return { server, tokenFile, summary: `${server.url}  (Confluent REST API; writes need the token ${tokenFile ? `in ${tokenFile}` : 'SHARDFLOW_REGISTRY_TOKEN'}${registered})` };
  } catch (err) {
    options.log.warn({ err: (err as Error).message, port: options.port }, 'schema registry REST API not started');
    return { server: undefined, tokenFile, summary: `REST API not started: port ${options.port} is taken (set SHARDFLOW_REGISTRY_PORT)${registered}; shardflow schema works` };
  }
}
