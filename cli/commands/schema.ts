// `shardflow schema`: the cluster's Avro schema registry (kept in NATS KV): register, list, show and
// check schemas, set compatibility levels, and serve the Confluent-shaped REST API for Kafka clients.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Config } from '../../common/config.ts';
import { ShardflowError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { loadJob } from '../../jobs/catalog.ts';
import { connectNats, natsAccess } from '../../nats/connect.ts';
import { startRegistryServer } from '../../schema/registry-http.ts';
import { parseSchemaText, SchemaRegistry, type ParsedSchema } from '../../schema/schema-registry.ts';

export const SCHEMA_HELP = `Usage: shardflow schema <action> [options]

The cluster's Avro schema registry, kept in the NATS KV bucket shardflow-schemas: schemas under
global ids (never reused), versions per subject, compatibility levels (BACKWARD by default).
  register --subject S --file F    register the Avro schema in file F under subject S: prints its id and
                                   version (the existing ones when S already holds it); refused when it
                                   breaks S's compatibility level
  register --job NAME              the schema an Avro job ships, under the job's subject
  list                             every subject with its versions
  show --subject S [--version V]   a version of a subject (default: latest) with its id and schema
  show --id N                      the schema with id N
  check --subject S --file F|--job NAME
                                   whether the schema may join S (exit code 1 and the reasons if not)
  config [--subject S] [--set LEVEL]
                                   the compatibility level (global, or of subject S), or set it:
                                   BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL,
                                   FULL_TRANSITIVE, NONE
  serve [--host H] [--port P]      serve the registry's REST API in the shape of Confluent's (for Kafka
                                   serializers and @kafkajs/confluent-schema-registry) until Ctrl-C;
                                   SHARDFLOW_REGISTRY_HOST (127.0.0.1) and _PORT (8081) by default.
                                   Reads are open; writes need SHARDFLOW_REGISTRY_TOKEN as a bearer
                                   token or as the basic-auth password (made and printed when unset)
Writes (register, config --set) and serve need a NATS credential that may write the bucket (admin).`;

export interface SchemaOptions {
  action: string;
  subject?: string | undefined;
  file?: string | undefined;
  job?: string | undefined;
  version?: string | undefined;
  id?: string | undefined;
  set?: string | undefined;
  host?: string | undefined;
  port?: string | undefined;
}

export async function schemaCommand(options: SchemaOptions, config: Config, log: Logger): Promise<number> {
  const nc = await connectNats(natsAccess(config), { name: `schema-${process.pid}` });
  try {
    const writes = options.action === 'register' || options.action === 'serve' || (options.action === 'config' && options.set !== undefined);
    const registry = await openRegistry(nc, config, writes).catch((err: unknown) => {
      if (options.action === 'list' && err instanceof ShardflowError && err.code === 'SUBJECT_NOT_FOUND') return undefined;
      throw err;
    });
    if (!registry) {
      process.stdout.write('no subjects: nothing was registered on this cluster yet\n');
      return 0;
    }
    const out = (value: unknown) => process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`);
    switch (options.action) {
      case 'register': {
        const { subject, schema } = await schemaToRegister(options);
        const r = await registry.register(subject, schema);
        out(r.created ? `registered ${subject} version ${r.version}: schema id ${r.id}` : `${subject} already holds it as version ${r.version}: schema id ${r.id}`);
        return 0;
      }
      case 'list':
        for (const subject of await registry.subjects()) out(`${subject}  versions ${(await registry.versions(subject)).join(', ')}  compatibility ${(await registry.compatibility(subject)).level}`);
        return 0;
      case 'show': {
        if (options.id !== undefined) {
          const schema = await registry.schemaById(Number(options.id));
          if (schema === undefined) throw new ShardflowError('SCHEMA_NOT_FOUND', `schema id ${options.id} is not in the registry`);
          out({ id: Number(options.id), schema: JSON.parse(schema) as unknown });
          return 0;
        }
        const subject = required(options.subject, '--subject S (or --id N)');
        const v = await registry.version(subject, options.version === undefined || options.version === 'latest' ? 'latest' : Number(options.version));
        out({ ...v, schema: JSON.parse(v.schema) as unknown });
        return 0;
      }
      case 'check': {
        const { subject, schema } = await schemaToRegister(options);
        const problems = await registry.check(subject, schema).catch((err: unknown) => {
          if (err instanceof ShardflowError && err.code === 'SUBJECT_NOT_FOUND') return [];
          throw err;
        });
        if (problems.length === 0) {
          out(`compatible: the schema may join ${subject} (compatibility ${(await registry.compatibility(subject)).level})`);
          return 0;
        }
        out(`incompatible with ${subject} (compatibility ${(await registry.compatibility(subject)).level}):`);
        for (const p of problems) out(`  - ${p}`);
        return 1;
      }
      case 'config': {
        if (options.set !== undefined) out(`compatibility${options.subject ? ` of ${options.subject}` : ''} set to ${await registry.setCompatibility(options.set, options.subject)}`);
        else out((await registry.compatibility(options.subject)).level);
        return 0;
      }
      case 'serve':
        return await serve(registry, options, config, log);
      default:
        throw new ShardflowError('CONFIG_INVALID', `unknown schema action "${options.action}"; one of register, list, show, check, config, serve`);
    }
  } finally {
    await nc.drain().catch(() => {});
  }
}

async function openRegistry(nc: NatsConnection, config: Config, writes: boolean): Promise<SchemaRegistry> {
  try {
    return await SchemaRegistry.open(nc, { create: writes, replicas: config.REPLICAS });
  } catch (err) {
    if (!writes && /not found/i.test(String((err as Error).message))) {
      throw new ShardflowError('SUBJECT_NOT_FOUND', 'the schema registry is empty: nothing was registered on this cluster yet (shardflow schema register ...)', { cause: err });
    }
    throw err;
  }
}

async function schemaToRegister(options: SchemaOptions): Promise<{ subject: string; schema: ParsedSchema }> {
  if (options.job !== undefined) {
    const job = await loadJob(options.job);
    if (!job.avro?.schema) throw new ShardflowError('CONFIG_INVALID', `job ${job.name} ships no Avro schema (format: 'avro' with avro.schema); give --subject S --file F`);
    return { subject: options.subject ?? job.avro.subject, schema: parseSchemaText(JSON.stringify(job.avro.schema)) };
  }
  const subject = required(options.subject, '--subject S (or --job NAME)');
  const file = required(options.file, '--file F (an .avsc file) or --job NAME');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ShardflowError('CONFIG_INVALID', `cannot read the schema file ${file}: ${(err as Error).message}`);
  }
  return { subject, schema: parseSchemaText(text) };
}

async function serve(registry: SchemaRegistry, options: SchemaOptions, config: Config, log: Logger): Promise<number> {
  const port = options.port === undefined ? config.REGISTRY_PORT : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ShardflowError('CONFIG_INVALID', `--port must be a port number, got "${options.port}"`);
  let token = config.REGISTRY_TOKEN;
  const server = await startRegistryServer(registry, { host: options.host ?? config.REGISTRY_HOST, port, token: (token ??= randomBytes(24).toString('base64url')), log });
  process.stdout.write(`schema registry REST API on ${server.url} (reads open; writes need the token)\n`);
  // Printed, never logged: logs are collected and kept; a terminal is the operator's.
  if (config.REGISTRY_TOKEN === undefined) process.stdout.write(`write token (set SHARDFLOW_REGISTRY_TOKEN to choose it): ${token}\n`);
  log.info({ url: server.url }, 'schema registry serving');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}

function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new ShardflowError('CONFIG_INVALID', `give ${what}`);
  return value;
}
