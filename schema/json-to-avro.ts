// A JSON event as an Avro record of a given schema, for producers that move JSON events to Avro
// (`shardflow produce --format avro`): fields left out become null where the field may be null (or
// take their default), and ISO-8601 strings become epoch milliseconds where the schema says
// timestamp-millis. Whatever still does not fit the schema is not converted.
import type { Type } from 'avsc';

interface FieldSchema {
  name: string;
  type: unknown;
  default?: unknown;
}

/** The record to encode, or undefined when the event does not fit the schema. */
export function jsonToAvroRecord(type: Type, schema: unknown, event: unknown): Record<string, unknown> | undefined {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return undefined;
  const fields = (schema as { fields?: FieldSchema[] }).fields;
  if (!Array.isArray(fields)) return undefined;
  const source = event as Record<string, unknown>;
  const record: Record<string, unknown> = {};
  for (const f of fields) {
    let value = source[f.name];
    if (value === undefined) value = 'default' in f ? f.default : null;
    if (typeof value === 'string' && isTimestampMillis(f.type)) {
      const ms = Date.parse(value);
      if (Number.isFinite(ms)) value = ms;
    }
    record[f.name] = value;
  }
  return type.isValid(record) ? record : undefined;
}

function isTimestampMillis(fieldType: unknown): boolean {
  const branches = Array.isArray(fieldType) ? fieldType : [fieldType];
  return branches.some((b) => typeof b === 'object' && b !== null && (b as { logicalType?: unknown }).logicalType === 'timestamp-millis');
}
