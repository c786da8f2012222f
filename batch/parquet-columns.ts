// The Parquet columns of a job's lake files, derived from its zod schema alone (never from the data),
// so every file of a job has the same schema whatever rows it happens to hold. Pure: no I/O.
import type { ColumnSource } from 'hyparquet-writer';
import type { z } from 'zod';

export type ColumnType = 'STRING' | 'INT32' | 'INT64' | 'DOUBLE' | 'BOOLEAN' | 'TIMESTAMP' | 'JSON';

/** Where a column's values come from: a field of the event, the whole event, or the stream. */
export type ColumnSourceKind = { kind: 'field'; field: string } | { kind: 'event' } | { kind: 'meta'; meta: keyof RowMeta };

export interface PlannedColumn {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable: boolean;
  readonly from: ColumnSourceKind;
}

export interface ColumnPlan {
  /** 'fields': one column per field of a z.object; 'json': the whole event in one JSON column. */
  readonly mode: 'fields' | 'json';
  readonly columns: readonly PlannedColumn[];
  /** What could not be mapped one to one, for the summary of a run. */
  readonly notes: readonly string[];
}

/** Where an event was in the input stream and its two times (epoch ms). */
export interface RowMeta {
  readonly seq: number;
  /** The event's place in its message (0 unless the producer batched). */
  readonly index: number;
  readonly partition: number;
  readonly eventTime: number;
  readonly ingestTime: number;
}

export interface LakeRow {
  readonly event: unknown;
  readonly meta: RowMeta;
}

export const META_COLUMNS: readonly PlannedColumn[] = [
  { name: '_seq', type: 'INT64', nullable: false, from: { kind: 'meta', meta: 'seq' } },
  { name: '_index', type: 'INT32', nullable: false, from: { kind: 'meta', meta: 'index' } },
  { name: '_partition', type: 'INT32', nullable: false, from: { kind: 'meta', meta: 'partition' } },
  { name: '_event_time', type: 'TIMESTAMP', nullable: false, from: { kind: 'meta', meta: 'eventTime' } },
  { name: '_ingest_time', type: 'TIMESTAMP', nullable: false, from: { kind: 'meta', meta: 'ingestTime' } },
];

const EVENT_JSON_COLUMN = 'event';
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** Minimal view of a zod v4 schema: its definition and, for numbers, the bounds zod computed. */
interface ZodView {
  def: { type: string; innerType?: ZodView; options?: ZodView[]; shape?: Record<string, ZodView>; values?: unknown[]; entries?: Record<string, unknown> };
  format?: string | null;
  minValue?: number | null;
  maxValue?: number | null;
}

export function planColumns(schema: z.ZodType): ColumnPlan {
  const root = schema as unknown as ZodView;
  if (root.def?.type !== 'object' || !root.def.shape) return jsonPlan(`the job's schema is a ${root.def?.type ?? 'non-zod'} schema, not a z.object`);
  const notes: string[] = [];
  const columns: PlannedColumn[] = [];
  for (const [field, fieldSchema] of Object.entries(root.def.shape)) {
    if (META_COLUMNS.some((m) => m.name === field)) return jsonPlan(`field "${field}" has the name of a metadata column`);
    const { schema: inner, nullable } = unwrapNullable(fieldSchema);
    const type = scalarType(inner);
    if (type === undefined) notes.push(`field "${field}" (${describe(inner)}) is not a scalar: written as JSON text`);
    columns.push({ name: field, type: type ?? 'JSON', nullable, from: { kind: 'field', field } });
  }
  const catchall = (root.def as { catchall?: ZodView }).catchall;
  if (catchall && catchall.def.type !== 'never') notes.push('fields not named in the schema (a loose object) are not written');
  return { mode: 'fields', columns: [...columns, ...META_COLUMNS], notes };
}

function jsonPlan(why: string): ColumnPlan {
  return {
    mode: 'json',
    columns: [{ name: EVENT_JSON_COLUMN, type: 'JSON', nullable: false, from: { kind: 'event' } }, ...META_COLUMNS],
    notes: [`${why}: each event is written whole to the JSON column "${EVENT_JSON_COLUMN}"`],
  };
}

/** Column-major data of `rows` for hyparquet-writer, in the plan's physical types. */
export function columnData(plan: ColumnPlan, rows: readonly LakeRow[]): ColumnSource[] {
  return plan.columns.map((column) => ({
    name: column.name,
    type: column.type,
    nullable: column.nullable,
    data: rows.map((row) => toPhysical(column, valueOf(column.from, row))),
  }));
}

function valueOf(from: ColumnSourceKind, row: LakeRow): unknown {
  if (from.kind === 'meta') return row.meta[from.meta];
  if (from.kind === 'event') return row.event;
  return (row.event as Record<string, unknown>)[from.field];
}

function toPhysical(column: PlannedColumn, value: unknown): unknown {
  if (value === undefined || value === null) {
    // The schema validated the event, so a missing required value is a bug in this mapping.
    if (!column.nullable) throw new TypeError(`column ${column.name} is required but the event has no value`);
    return null;
  }
  // hyparquet-writer takes INT64 values as bigint only; zod has checked they are safe integers.
  if (column.type === 'INT64' && typeof value === 'number') return BigInt(value);
  return value;
}

function unwrapNullable(schema: ZodView): { schema: ZodView; nullable: boolean } {
  let nullable = false;
  let current = schema;
  // A default also counts as nullable: readers merging files written before a field got its default
  // then see one compatible column type.
  while (['optional', 'nullable', 'default', 'prefault', 'nonoptional', 'readonly', 'catch'].includes(current.def.type) && current.def.innerType) {
    if (current.def.type !== 'nonoptional' && current.def.type !== 'readonly') nullable = true;
    current = current.def.innerType;
  }
  return { schema: current, nullable };
}

function scalarType(schema: ZodView): ColumnType | undefined {
  switch (schema.def.type) {
    case 'string':
      return 'STRING';
    case 'boolean':
      return 'BOOLEAN';
    case 'bigint':
      return 'INT64';
    case 'date':
      return 'TIMESTAMP';
    case 'number':
      return numberType(schema);
    case 'enum':
      return commonType(Object.values(schema.def.entries ?? {}));
    case 'literal':
      return commonType(schema.def.values ?? []);
    case 'union': {
      // A union of scalars of one type (e.g. of string literals) keeps that type; a mixed one does not.
      const types = (schema.def.options ?? []).map((o) => scalarType(unwrapNullable(o).schema));
      return types.length > 0 && types.every((t) => t !== undefined && t === types[0]) ? types[0] : undefined;
    }
    default:
      return undefined;
  }
}

function numberType(schema: ZodView): ColumnType {
  const integer = schema.format === 'safeint' || schema.format === 'int32' || schema.format === 'uint32';
  if (!integer) return 'DOUBLE';
  const fitsInt32 = (schema.minValue ?? -Infinity) >= INT32_MIN && (schema.maxValue ?? Infinity) <= INT32_MAX;
  return fitsInt32 ? 'INT32' : 'INT64';
}

function commonType(values: unknown[]): ColumnType | undefined {
  if (values.length > 0 && values.every((v) => typeof v === 'string')) return 'STRING';
  if (values.length > 0 && values.every((v) => typeof v === 'boolean')) return 'BOOLEAN';
  if (values.length > 0 && values.every((v) => Number.isInteger(v) && (v as number) >= INT32_MIN && (v as number) <= INT32_MAX)) return 'INT32';
  if (values.length > 0 && values.every((v) => typeof v === 'number')) return 'DOUBLE';
  return undefined;
}

function describe(schema: ZodView): string {
  if (schema.def.type === 'union') return (schema.def.options ?? []).map((o) => describe(unwrapNullable(o).schema)).join(' | ');
  return schema.def.type;
}
