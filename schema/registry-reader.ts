// How processes that only read the registry (workers, producers) fetch schemas by id: the bucket is
// opened on first use, and a cluster where nothing was ever registered (no bucket) holds no ids.
import type { NatsConnection } from '@nats-io/transport-node';
import type { Job } from '../jobs/define-job.ts';
import { jsonPayload, type PayloadDecoder } from '../jobs/event-decoder.ts';
import { avroPayload, type WriterSchemaLookup } from './avro-payload.ts';
import { SchemaRegistry } from './schema-registry.ts';
import { WriterSchemaCache, type SchemaFetcher } from './writer-schema-cache.ts';

export function registryFetcher(nc: NatsConnection): SchemaFetcher {
  let registry: Promise<SchemaRegistry> | undefined;
  /** The registry, or undefined while nothing was ever registered (no bucket). */
  const open = async (): Promise<SchemaRegistry | undefined> => {
    registry ??= SchemaRegistry.open(nc, { create: false, replicas: 1 });
    try {
      return await registry;
    } catch (err) {
      registry = undefined;
      if (/not found/i.test(String((err as Error)?.message))) return undefined;
      throw err;
    }
  };
  return {
    schema: async (id) => (await open())?.schemaById(id),
    lastId: async () => (await (await open())?.lastId()) ?? 0,
  };
}

/** A cache of writer schemas read from the cluster's registry. */
export function registrySchemaCache(nc: NatsConnection): WriterSchemaCache {
  return new WriterSchemaCache(registryFetcher(nc));
}

/** The payload decoder of a job: JSON, or Avro with the schemas `lookup` gives (the current batch's). */
export function payloadDecoderFor(job: Job<unknown>, lookup: WriterSchemaLookup): PayloadDecoder {
  return job.format === 'avro' ? avroPayload(job.avro!, lookup) : jsonPayload;
}
