// The schema registry, kept in a JetStream KV bucket: Avro schemas under global ids that are never
// reused, the versions of each subject, and compatibility levels (global and per subject), with the
// semantics of Confluent's registry. Every write is a compare-and-set on a key's revision, so
// registrations from several processes at once each get a consistent answer:
//   ids.last            the last id given out; an id is allocated by moving it on by one
//   ids.<id>            {schema}: written before anything names the id, so a reader that sees an id
//                       can always fetch its schema
//   fingerprints.<sha>  the id of a schema text, whatever the subject (one id per schema)
//   subjects.<b64>      {subject, versions: [{version, id, sha}]}
//   config.global, config.subjects.<b64>   {compatibility}
import { createHash } from 'node:crypto';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Type } from 'avsc';
import { describeError, ShardflowError } from '../common/errors.ts';
import {
  compatibilityKey,
  SCHEMA_ID_COUNTER_KEY,
  schemaFingerprintKey,
  schemaIdKey,
  SCHEMAS_BUCKET,
  SUBJECT_KEYS,
  subjectKey,
  subjectOfKey,
} from '../common/names.ts';
import { compatibilityProblems, DEFAULT_COMPATIBILITY, isCompatibilityLevel, parseAvroSchema, type CompatibilityLevel } from './compatibility.ts';

/** Subjects are names (letters, digits, ".", "_", "-"), as topics and record names are. */
export const SUBJECT_PATTERN = /^[A-Za-z0-9._-]{1,255}$/;
/** Ceilings: the bucket, one schema, the versions of one subject. */
export const REGISTRY_MAX_BYTES = 64 * 1024 * 1024;
export const MAX_SCHEMA_BYTES = 256 * 1024;
export const MAX_VERSIONS = 1_000;
const CAS_ATTEMPTS = 20;

export interface SubjectVersion {
  readonly subject: string;
  readonly version: number;
  readonly id: number;
  /** The schema's normalized JSON text. */
  readonly schema: string;
}

interface VersionEntry {
  readonly version: number;
  readonly id: number;
  readonly sha: string;
}

interface SubjectRecord {
  readonly subject: string;
  readonly versions: VersionEntry[];
}

export interface RegistryOptions {
  /** Replicas of the bucket when this call creates it. */
  readonly replicas: number;
  /** Create the bucket when missing (needs a credential that may: admin). Readers only open it. */
  readonly create: boolean;
}

/** A schema, checked: its normalized text, its fingerprint and its parsed type. */
export interface ParsedSchema {
  readonly text: string;
  readonly sha: string;
  readonly type: Type;
}

export function parseSchemaText(text: string, schemaType?: string): ParsedSchema {
  if (schemaType !== undefined && schemaType !== 'AVRO') throw new ShardflowError('SCHEMA_INVALID', `schema type ${schemaType} is not supported: this registry holds Avro schemas only`);
  if (typeof text !== 'string' || text.length === 0) throw new ShardflowError('SCHEMA_INVALID', 'the schema is missing: give it as a JSON string');
  if (Buffer.byteLength(text) > MAX_SCHEMA_BYTES) throw new ShardflowError('SCHEMA_INVALID', `the schema is larger than ${MAX_SCHEMA_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ShardflowError('SCHEMA_INVALID', `the schema is not JSON: ${describeError(err)}`);
  }
  let type: Type;
  try {
    type = parseAvroSchema(json);
  } catch (err) {
    throw new ShardflowError('SCHEMA_INVALID', `not a valid Avro schema: ${describeError(err)}`);
  }
  const normalized = JSON.stringify(json);
  return { text: normalized, sha: createHash('sha256').update(normalized).digest('hex'), type };
}

export function checkSubject(subject: string): string {
  if (!SUBJECT_PATTERN.test(subject)) throw new ShardflowError('SUBJECT_NOT_FOUND', `subject ${JSON.stringify(subject.slice(0, 80))} is not a valid subject name (1-255 letters, digits, ".", "_" or "-")`);
  return subject;
}

export class SchemaRegistry {
  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection, options: RegistryOptions): Promise<SchemaRegistry> {
    const kvm = new Kvm(nc);
    // Reads go through the stream leader (allow_direct off), as for every bucket of the cluster: a
    // replica catching up must not answer "no such id" for an id that exists.
    const kv = options.create
      ? await kvm.create(SCHEMAS_BUCKET, { history: 1, replicas: options.replicas, allow_direct: false, max_bytes: REGISTRY_MAX_BYTES })
      : await kvm.open(SCHEMAS_BUCKET);
    // open() does not ask the server: a missing bucket must show here ("stream not found"), not at the first read.
    if (!options.create) await kv.status();
    return new SchemaRegistry(kv);
  }

  /** The schema text of an id, or undefined when no schema has it. */
  async schemaById(id: number): Promise<string | undefined> {
    if (!Number.isSafeInteger(id) || id < 1) return undefined;
    const entry = await this.kv.get(schemaIdKey(id));
    if (!entry || entry.operation !== 'PUT') return undefined;
    return (entry.json() as { schema: string }).schema;
  }

  /** The last id given out (0: none yet). An id above it names no schema. */
  async lastId(): Promise<number> {
    const entry = await this.kv.get(SCHEMA_ID_COUNTER_KEY);
    return entry && entry.operation === 'PUT' ? (entry.json() as { last: number }).last : 0;
  }

  async subjects(): Promise<string[]> {
    const out: string[] = [];
    for await (const key of await this.kv.keys(SUBJECT_KEYS)) {
      const subject = subjectOfKey(key);
      if (subject !== undefined) out.push(subject);
    }
    return out.sort();
  }

  async versions(subject: string): Promise<number[]> {
    return (await this.subjectRecord(subject, true)).record!.versions.map((v) => v.version);
  }

  /** A version of a subject: a number, or `latest`. */
  async version(subject: string, version: number | 'latest'): Promise<SubjectVersion> {
    const { record } = await this.subjectRecord(subject, true);
    const entry = version === 'latest' ? record!.versions.at(-1) : record!.versions.find((v) => v.version === version);
    if (!entry) throw new ShardflowError('VERSION_NOT_FOUND', `subject ${subject} has no version ${version}; it has ${record!.versions.map((v) => v.version).join(', ')}`);
    return { subject, version: entry.version, id: entry.id, schema: await this.requireSchema(entry.id) };
  }

  /** The version of `subject` that holds this schema, or undefined. */
  async lookup(subject: string, schema: ParsedSchema): Promise<SubjectVersion | undefined> {
    const { record } = await this.subjectRecord(subject, true);
    const entry = record!.versions.find((v) => v.sha === schema.sha);
    return entry ? { subject, version: entry.version, id: entry.id, schema: schema.text } : undefined;
  }

  /** The level that applies to `subject` (its own, else the global one), or the global level. */
  async compatibility(subject?: string): Promise<{ level: CompatibilityLevel; own: boolean }> {
    if (subject !== undefined) {
      const own = await this.kv.get(compatibilityKey(subject));
      if (own && own.operation === 'PUT') return { level: (own.json() as { compatibility: CompatibilityLevel }).compatibility, own: true };
    }
    const global = await this.kv.get(compatibilityKey());
    const level = global && global.operation === 'PUT' ? (global.json() as { compatibility: CompatibilityLevel }).compatibility : DEFAULT_COMPATIBILITY;
    return { level, own: subject === undefined };
  }

  async setCompatibility(level: string, subject?: string): Promise<CompatibilityLevel> {
    if (!isCompatibilityLevel(level)) throw new ShardflowError('SCHEMA_INVALID', `compatibility ${JSON.stringify(level)} is not one of BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE`);
    if (subject !== undefined) checkSubject(subject);
    await this.kv.put(compatibilityKey(subject), JSON.stringify({ compatibility: level }));
    return level;
  }

  /** Problems the schema would have joining `subject` (its level, against `version` or, with the
   *  level's rules, the latest or every version); empty when it may. A subject without versions
   *  takes anything. */
  async check(subject: string, schema: ParsedSchema, version: number | 'latest' | 'level' = 'level'): Promise<string[]> {
    const { record } = await this.subjectRecord(subject, version !== 'level');
    const versions = record?.versions ?? [];
    if (version === 'level') {
      const { level } = await this.compatibility(subject);
      return compatibilityProblems(level, schema.type, await this.types(versions));
    }
    const target = await this.version(subject, version);
    const { level } = await this.compatibility(subject);
    // Against one version: the level's direction, not its transitivity.
    const direction = level.replace('_TRANSITIVE', '') as CompatibilityLevel;
    return compatibilityProblems(direction, schema.type, [parseAvroSchema(JSON.parse(target.schema))]);
  }

  /**
   * Registers a schema under a subject: the existing version when the subject already holds it, else
   * a new version (checked against the subject's compatibility level) with the schema's id (an
   * existing id when another subject holds the same schema, else a new one).
   */
  async register(subject: string, schema: ParsedSchema): Promise<SubjectVersion & { created: boolean }> {
    checkSubject(subject);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const { record, revision } = await this.subjectRecord(subject, false);
      const versions = record?.versions ?? [];
      const held = versions.find((v) => v.sha === schema.sha);
      if (held) return { subject, version: held.version, id: held.id, schema: schema.text, created: false };
      if (versions.length >= MAX_VERSIONS) throw new ShardflowError('SCHEMA_INCOMPATIBLE', `subject ${subject} holds ${MAX_VERSIONS} versions, the most it may`);
      const { level } = await this.compatibility(subject);
      const problems = compatibilityProblems(level, schema.type, await this.types(versions));
      if (problems.length > 0) throw new ShardflowError('SCHEMA_INCOMPATIBLE', `the schema is incompatible with subject ${subject} (compatibility ${level}): ${problems.join('; ')}`);
      const id = await this.idFor(schema);
      const entry: VersionEntry = { version: (versions.at(-1)?.version ?? 0) + 1, id, sha: schema.sha };
      const next: SubjectRecord = { subject, versions: [...versions, entry] };
      try {
        if (revision === 0) await this.kv.create(subjectKey(subject), JSON.stringify(next));
        else await this.kv.update(subjectKey(subject), JSON.stringify(next), revision);
        return { subject, version: entry.version, id, schema: schema.text, created: true };
      } catch (err) {
        if (!isCasFailure(err)) throw err;
        // Another registration changed the subject first: judge again against what it holds now.
      }
    }
    throw new ShardflowError('REGISTRY_BUSY', `subject ${subject} kept changing under ${CAS_ATTEMPTS} attempts to register`);
  }

  /** The id of a schema: the one it has, or a new one. */
  private async idFor(schema: ParsedSchema): Promise<number> {
    const known = await this.kv.get(schemaFingerprintKey(schema.sha));
    if (known && known.operation === 'PUT') return (known.json() as { id: number }).id;
    const id = await this.allocateId();
    await this.kv.put(schemaIdKey(id), JSON.stringify({ schema: schema.text }));
    try {
      await this.kv.create(schemaFingerprintKey(schema.sha), JSON.stringify({ id }));
      return id;
    } catch (err) {
      if (!isCasFailure(err)) throw err;
      // Registered at the same moment elsewhere: use that id. Ours stays unused (ids are never reused).
      const theirs = await this.kv.get(schemaFingerprintKey(schema.sha));
      return (theirs!.json() as { id: number }).id;
    }
  }

  private async allocateId(): Promise<number> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS * 5; attempt++) {
      const entry = await this.kv.get(SCHEMA_ID_COUNTER_KEY);
      const last = entry && entry.operation === 'PUT' ? (entry.json() as { last: number }).last : 0;
      try {
        if (entry) await this.kv.update(SCHEMA_ID_COUNTER_KEY, JSON.stringify({ last: last + 1 }), entry.revision);
        else await this.kv.create(SCHEMA_ID_COUNTER_KEY, JSON.stringify({ last: 1 }));
        return last + 1;
      } catch (err) {
        if (!isCasFailure(err)) throw err;
      }
    }
    throw new ShardflowError('REGISTRY_BUSY', 'schema ids kept being allocated elsewhere; try again');
  }

  private async subjectRecord(subject: string, mustExist: boolean): Promise<{ record: SubjectRecord | undefined; revision: number }> {
    checkSubject(subject);
    const entry = await this.kv.get(subjectKey(subject));
    if (!entry || entry.operation !== 'PUT') {
      if (mustExist) throw new ShardflowError('SUBJECT_NOT_FOUND', `subject ${subject} is not in the schema registry`);
      return { record: undefined, revision: 0 };
    }
    return { record: entry.json() as SubjectRecord, revision: entry.revision };
  }

  private async requireSchema(id: number): Promise<string> {
    const text = await this.schemaById(id);
    if (text === undefined) throw new ShardflowError('SCHEMA_NOT_FOUND', `schema id ${id} is not in the schema registry`);
    return text;
  }

  private async types(versions: readonly VersionEntry[]): Promise<Type[]> {
    return Promise.all(versions.map(async (v) => parseAvroSchema(JSON.parse(await this.requireSchema(v.id)))));
  }
}

const CAS_FAILED = 10071;

function isCasFailure(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string };
  return e?.code === CAS_FAILED || e?.api_error?.err_code === CAS_FAILED || /wrong last sequence/.test(String(e?.message));
}
