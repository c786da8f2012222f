// The payload decoder of an Avro job: Confluent-framed Avro records become plain values for the job's
// zod schema. Pure: the schemas it decodes with are handed to it (the shell fetches them from the
// registry before each step, schema/writer-schema-cache.ts), so the partition task stays free of I/O
// and a replay decodes every event exactly as the first run did.
import type { Type } from 'avsc';
import { describeError } from '../common/errors.ts';
import { jsonPayload, type PayloadDecoder } from '../jobs/event-decoder.ts';
import type { JobAvro } from '../jobs/define-job.ts';
import { checkAvroBounds, needsBoundsCheck } from './avro-bounds.ts';
import { bodyOf, isFramed, schemaIdOf } from './wire-format.ts';

/** The writer schema of an id: a type, `null` when the registry holds no such id, undefined when
 *  the shell did not look it up (treated as unknown). */
export type WriterSchemaLookup = (id: number) => Type | null | undefined;

export function avroPayload(avro: Pick<JobAvro, 'acceptJson'>, lookup: WriterSchemaLookup): PayloadDecoder {
  return (raw) => {
    const bytes = typeof raw === 'string' ? Buffer.from(raw) : raw;
    if (!isFramed(bytes)) {
      if (avro.acceptJson) return jsonPayload(raw);
      return { ok: false, reason: 'malformed-avro', message: 'not the Confluent wire format: an Avro event starts with the magic byte 0 and a 4-byte schema id' };
    }
    const id = schemaIdOf(bytes);
    if (id === undefined) return { ok: false, reason: 'malformed-avro', message: `${bytes.byteLength} bytes are too few for the Confluent wire format (magic byte, 4-byte schema id, record)` };
    const type = lookup(id);
    if (!type) return { ok: false, reason: 'unknown-schema-id', message: `schema id ${id} is not in the schema registry: register the producer's schema (shardflow schema register, or POST /subjects/<subject>/versions)` };
    const body = bodyOf(bytes);
    const problem = needsBoundsCheck(type) ? checkAvroBounds(type, body) : undefined;
    if (problem) return { ok: false, reason: 'malformed-avro', message: `does not decode with schema id ${id}: ${problem}` };
    try {
      const { value, offset } = type.decode(body, 0);
      if (offset !== body.byteLength) return { ok: false, reason: 'malformed-avro', message: `does not decode with schema id ${id}: the record is cut short` };
      return { ok: true, value: plain(value) };
    } catch (err) {
      return { ok: false, reason: 'malformed-avro', message: `does not decode with schema id ${id}: ${describeError(err)}` };
    }
  };
}

/** avsc's record instances as plain objects, with null fields left out: an optional Avro field is a
 *  union with null, and a JSON producer would leave it out, which the job's schema expects. */
function plain(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(plain);
  // Own properties only: whatever prototype avsc gave a map with a "__proto__" key (it assigns keys)
  // is left behind, and Object.keys never yields that key, so the assignment below cannot set one.
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(source)) {
    const v = source[k];
    if (v !== null) out[k] = plain(v);
  }
  return out;
}
