// How a producer turns a job's JSON events into the Confluent wire format with the latest schema of
// the job's subject: what `shardflow produce --format avro` publishes, as a Kafka producer with a
// Confluent serializer would. An event that does not fit the schema (the generators' dirty records)
// goes out as it is, so the workers dead-letter it with its reason instead of the producer hiding it.
import type { NatsConnection } from '@nats-io/transport-node';
import { ShardflowError } from '../common/errors.ts';
import type { Job } from '../jobs/define-job.ts';
import type { PayloadDecoder } from '../jobs/event-decoder.ts';
import { avroPayload } from './avro-payload.ts';
import { parseAvroSchema } from './compatibility.ts';
import { jsonToAvroRecord } from './json-to-avro.ts';
import { SchemaRegistry } from './schema-registry.ts';
import { frame } from './wire-format.ts';

export interface AvroEncoding {
  readonly schemaId: number;
  readonly version: number;
  readonly encode: (raw: string | Uint8Array) => Uint8Array;
  /** Reads keys back from what `encode` made. */
  readonly payload: PayloadDecoder;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export async function avroEncodingFor(nc: NatsConnection, job: Job<unknown>): Promise<AvroEncoding> {
  if (job.format !== 'avro' || !job.avro) throw new ShardflowError('CONFIG_INVALID', `job ${job.name} reads JSON, not Avro (its definition has no format: 'avro'); leave out --format avro`);
  const subject = job.avro.subject;
  const registry = await SchemaRegistry.open(nc, { create: false, replicas: 1 }).catch((err: unknown) => {
    throw new ShardflowError('SUBJECT_NOT_FOUND', `the schema registry is empty: register the job's schema first (shardflow schema register --job ${job.name})`, { cause: err });
  });
  const latest = await registry.version(subject, 'latest').catch((err: unknown) => {
    if (err instanceof ShardflowError && err.code === 'SUBJECT_NOT_FOUND') throw new ShardflowError('SUBJECT_NOT_FOUND', `subject ${subject} is not registered: shardflow schema register --job ${job.name}`, { cause: err });
    throw err;
  });
  const schema = JSON.parse(latest.schema) as unknown;
  const type = parseAvroSchema(schema);
  const encode = (raw: string | Uint8Array): Uint8Array => {
    const text = typeof raw === 'string' ? raw : textDecoder.decode(raw);
    let event: unknown;
    try {
      event = JSON.parse(text);
    } catch {
      return textEncoder.encode(text);
    }
    const record = jsonToAvroRecord(type, schema, event);
    return record ? frame(latest.id, type.toBuffer(record)) : textEncoder.encode(text);
  };
  return { schemaId: latest.id, version: latest.version, encode, payload: avroPayload({ acceptJson: true }, (id) => (id === latest.id ? type : undefined)) };
}
