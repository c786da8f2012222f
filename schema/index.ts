// Avro input and the schema registry kept in NATS KV: the public surface.
export { avroPayload, type WriterSchemaLookup } from './avro-payload.ts';
export { checkAvroBounds, MAX_AVRO_DEPTH, MAX_ZERO_WIDTH_ITEMS } from './avro-bounds.ts';
export { avroEncodingFor, type AvroEncoding } from './avro-encoder.ts';
export { COMPATIBILITY_LEVELS, compatibilityProblems, DEFAULT_COMPATIBILITY, isCompatibilityLevel, parseAvroSchema, type CompatibilityLevel } from './compatibility.ts';
export { jsonToAvroRecord } from './json-to-avro.ts';
export { startLocalRegistry, type LocalRegistry } from './local-registry.ts';
export { REGISTRY_CONTENT_TYPE, startRegistryServer, type RegistryServer, type RegistryServerOptions } from './registry-http.ts';
export { payloadDecoderFor, registryFetcher, registrySchemaCache } from './registry-reader.ts';
export { checkSubject, parseSchemaText, SchemaRegistry, type ParsedSchema, type SubjectVersion } from './schema-registry.ts';
export { bodyOf, frame, isFramed, MAGIC_BYTE, schemaIdOf } from './wire-format.ts';
export { WriterSchemaCache, WRITER_SCHEMA_CACHE_MAX, type BatchSchemas, type SchemaFetcher } from './writer-schema-cache.ts';
