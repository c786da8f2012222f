// The Confluent wire format of a Kafka record value: magic byte 0, the schema id as a 4-byte
// big-endian integer, then the Avro binary encoding of the record. Payloads of existing Kafka
// producers (Confluent serializers, @kafkajs/confluent-schema-registry) have this shape, so shardflow
// reads them unchanged.

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

/** Largest schema id: ids are positive signed 32-bit integers, as Confluent's. */
export const MAX_SCHEMA_ID = 0x7fffffff;

/** The schema id a framed payload names, or undefined when the payload is not framed. */
export function schemaIdOf(payload: Uint8Array): number | undefined {
  if (payload.byteLength < HEADER_BYTES || payload[0] !== MAGIC_BYTE) return undefined;
  return ((payload[1]! << 24) | (payload[2]! << 16) | (payload[3]! << 8) | payload[4]!) >>> 0;
}

/** Whether a payload starts with the magic byte (JSON text never does: it cannot start with NUL). */
export function isFramed(payload: Uint8Array): boolean {
  return payload.byteLength > 0 && payload[0] === MAGIC_BYTE;
}

/** The Avro body of a framed payload, without copying. */
export function bodyOf(payload: Uint8Array): Buffer {
  return Buffer.from(payload.buffer, payload.byteOffset + HEADER_BYTES, payload.byteLength - HEADER_BYTES);
}

/** Frames an Avro body with its schema id. */
export function frame(schemaId: number, body: Uint8Array): Uint8Array {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > MAX_SCHEMA_ID) throw new RangeError(`schema id ${schemaId} is not a 31-bit whole number`);
  const out = new Uint8Array(HEADER_BYTES + body.byteLength);
  out[0] = MAGIC_BYTE;
  new DataView(out.buffer).setUint32(1, schemaId, false);
  out.set(body, HEADER_BYTES);
  return out;
}
