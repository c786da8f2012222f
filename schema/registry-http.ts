// The schema registry's REST API in the shape of Confluent's, the subset Kafka clients use (register,
// look up, get by id, latest version, compatibility, config), so existing serializers and
// @kafkajs/confluent-schema-registry work against the registry kept in NATS KV. Content type
// application/vnd.schemaregistry.v1+json; errors are {error_code, message} with Confluent's codes.
// Reads are open (as Confluent's are by default); writes need the token, as a bearer token or as the
// password of basic auth (what Kafka clients send). It listens on 127.0.0.1 unless told otherwise.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { bearerTokenCheck } from '../common/bearer-token.ts';
import { isShardflowError, type ErrorCode } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { isCompatibilityLevel } from './compatibility.ts';
import { MAX_SCHEMA_BYTES, parseSchemaText, type SchemaRegistry } from './schema-registry.ts';

export const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
/** Largest request body: a schema at its ceiling, JSON-escaped, with room to spare. */
const MAX_BODY_BYTES = 4 * MAX_SCHEMA_BYTES;
const PARAMETER_AFTER = new Set(['subjects', 'ids', 'versions', 'config']);

export interface RegistryServerOptions {
  readonly host: string;
  readonly port: number;
  /** What writes must carry. */
  readonly token: string;
  readonly log: Logger;
}

export interface RegistryServer {
  readonly url: string;
  close(): Promise<void>;
}

/** An answer with Confluent's HTTP status and error code. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

const STATUS_OF: Partial<Record<ErrorCode, [number, number]>> = {
  SUBJECT_NOT_FOUND: [404, 40401],
  VERSION_NOT_FOUND: [404, 40402],
  SCHEMA_NOT_FOUND: [404, 40403],
  SCHEMA_INVALID: [422, 42201],
  SCHEMA_INCOMPATIBLE: [409, 409],
  REGISTRY_BUSY: [503, 50003],
};

export async function startRegistryServer(registry: SchemaRegistry, options: RegistryServerOptions): Promise<RegistryServer> {
  const bearer = bearerTokenCheck(options.token);
  const authorized = (header: string | undefined): boolean => {
    const basic = /^basic +([A-Za-z0-9+/=]+)$/i.exec(header ?? '')?.[1];
    if (basic === undefined) return bearer(header);
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    return bearer(`Bearer ${decoded.slice(decoded.indexOf(':') + 1)}`);
  };
  const server: Server = createServer((req, res) => {
    handle(registry, req, authorized)
      .then(({ status, body }) => send(res, status, body))
      .catch((err: unknown) => {
        if (err instanceof HttpError) return send(res, err.status, { error_code: err.errorCode, message: err.message }, err.status === 401 ? { 'www-authenticate': 'Basic realm="shardflow schema registry"' } : {});
        const mapped = isShardflowError(err) ? STATUS_OF[err.code] : undefined;
        if (mapped) return send(res, mapped[0], { error_code: mapped[1], message: (err as Error).message });
        options.log.warn({ err: (err as Error)?.message, method: req.method, path: req.url?.split('?')[0] }, 'schema registry request failed');
        send(res, 500, { error_code: 50001, message: 'the registry could not answer: its NATS bucket failed (see the server log)' });
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': REGISTRY_CONTENT_TYPE, ...headers });
  res.end(JSON.stringify(body));
}

async function handle(registry: SchemaRegistry, req: IncomingMessage, authorized: (h: string | undefined) => boolean): Promise<{ status: number; body: unknown }> {
  const url = new URL(req.url ?? '/', 'http://registry');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeSegment);
  const method = req.method ?? 'GET';
  const write = method !== 'GET' && method !== 'HEAD' && !(method === 'POST' && isReadOnlyPost(parts));
  if (write && !authorized(req.headers.authorization)) throw new HttpError(401, 40101, 'writes need the registry token: a bearer token, or basic auth with the token as password (SHARDFLOW_REGISTRY_TOKEN)');
  const ok = (body: unknown) => ({ status: 200, body });
  // The path's shape: a segment after `subjects`, `ids`, `versions` or `config` is a parameter.
  const shape: string[] = [];
  for (let i = 0; i < parts.length; i++) shape.push(i > 0 && shape[i - 1] !== '*' && PARAMETER_AFTER.has(parts[i - 1]!) ? '*' : parts[i]!);
  const route = `${method} /${shape.join('/')}`;

  switch (route) {
    case 'GET /subjects':
      return ok(await registry.subjects());
    case 'GET /schemas/types':
      return ok(['AVRO']);
    case 'GET /schemas/ids/*': {
      const id = wholeNumber(parts[2]!, 40403, 'schema id');
      const schema = await registry.schemaById(id);
      if (schema === undefined) throw new HttpError(404, 40403, `schema id ${id} not found`);
      return ok({ schema });
    }
    case 'GET /subjects/*/versions':
      return ok(await registry.versions(parts[1]!));
    case 'GET /subjects/*/versions/*':
      return ok(await registry.version(parts[1]!, versionOf(parts[3]!)));
    case 'GET /subjects/*/versions/*/schema':
      return ok(JSON.parse((await registry.version(parts[1]!, versionOf(parts[3]!))).schema));
    case 'POST /subjects/*/versions': {
      const body = await readSchemaBody(req);
      const registered = await registry.register(parts[1]!, parseSchemaText(body.schema, body.schemaType));
      return ok({ id: registered.id });
    }
    case 'POST /subjects/*': {
      const body = await readSchemaBody(req);
      const found = await registry.lookup(parts[1]!, parseSchemaText(body.schema, body.schemaType));
      if (!found) throw new HttpError(404, 40403, `the schema is not registered under subject ${parts[1]}`);
      return ok(found);
    }
    case 'POST /compatibility/subjects/*/versions/*':
    case 'POST /compatibility/subjects/*/versions': {
      const body = await readSchemaBody(req);
      const schema = parseSchemaText(body.schema, body.schemaType);
      const problems = parts.length > 4 ? await registry.check(parts[2]!, schema, versionOf(parts[4]!)) : await registry.check(parts[2]!, schema, 'level');
      return ok(url.searchParams.get('verbose') === 'true' ? { is_compatible: problems.length === 0, messages: problems } : { is_compatible: problems.length === 0 });
    }
    case 'GET /config':
      return ok({ compatibilityLevel: (await registry.compatibility()).level });
    case 'GET /config/*': {
      const { level, own } = await registry.compatibility(parts[1]!);
      if (!own && url.searchParams.get('defaultToGlobal') !== 'true') throw new HttpError(404, 40408, `subject ${parts[1]} has no compatibility level of its own (the global one applies)`);
      return ok({ compatibilityLevel: level });
    }
    case 'PUT /config':
    case 'PUT /config/*': {
      const body = (await readJson(req)) as { compatibility?: unknown };
      if (!isCompatibilityLevel(body.compatibility)) throw new HttpError(422, 42203, `compatibility ${JSON.stringify(body.compatibility)} is not one of BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE`);
      return ok({ compatibility: await registry.setCompatibility(body.compatibility, parts[1]) });
    }
    default:
      throw new HttpError(404, 404, `no such endpoint: ${method} ${url.pathname}`);
  }
}

/** Lookups and compatibility checks are POSTs that write nothing. */
function isReadOnlyPost(parts: string[]): boolean {
  return parts[0] === 'compatibility' || (parts[0] === 'subjects' && parts.length === 2);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(404, 404, 'the path is not valid percent-encoding');
  }
}

function wholeNumber(text: string, errorCode: number, what: string): number {
  if (!/^\d{1,10}$/.test(text)) throw new HttpError(404, errorCode, `${what} ${JSON.stringify(text.slice(0, 20))} is not a whole number`);
  return Number(text);
}

function versionOf(text: string): number | 'latest' {
  if (text === 'latest' || text === '-1') return 'latest';
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw new HttpError(422, 42202, `version ${JSON.stringify(text.slice(0, 20))} must be a positive whole number or "latest"`);
  return Number(text);
}

async function readSchemaBody(req: IncomingMessage): Promise<{ schema: string; schemaType?: string }> {
  const body = (await readJson(req)) as { schema?: unknown; schemaType?: unknown };
  if (typeof body.schema !== 'string') throw new HttpError(422, 42201, 'the body must be {"schema": "<the Avro schema as a JSON string>"}');
  if (body.schemaType !== undefined && typeof body.schemaType !== 'string') throw new HttpError(422, 42201, 'schemaType must be a string');
  return { schema: body.schema, ...(body.schemaType === undefined ? {} : { schemaType: body.schemaType as string }) };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 41301, `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 50005, 'the request body is not JSON');
  }
}
