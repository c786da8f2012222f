// A guard run before avsc decodes bytes from the outside world. avsc trusts the block counts of arrays
// and maps: a record of a few bytes can claim 2^31 items, and avsc then loops (and allocates) that
// many times before it notices the buffer ran out, which would stall a partition on one poison
// record. This walks the writer schema over the bytes without building values and refuses, before
// any decoding, counts the remaining bytes cannot hold, nesting deeper than a recursive schema
// should go, and lengths past the end.
import type { Type } from 'avsc';

/** Deepest nesting of records, arrays, maps and unions accepted (a recursive schema, e.g. a tree). */
export const MAX_AVRO_DEPTH = 256;
/** Most items of types that take no bytes (null, an empty record) in one record. */
export const MAX_ZERO_WIDTH_ITEMS = 65_536;

interface Cursor {
  readonly buf: Uint8Array;
  pos: number;
  zeroWidth: number;
}

class OutOfBounds extends Error {}

/** undefined when `buf` from `pos` can be decoded with `type` within bounds; else what is wrong. */
export function checkAvroBounds(type: Type, buf: Uint8Array, pos = 0): string | undefined {
  const cursor: Cursor = { buf, pos, zeroWidth: 0 };
  try {
    walk(type, cursor, 0);
  } catch (err) {
    if (err instanceof OutOfBounds) return err.message;
    throw err;
  }
  if (cursor.pos !== buf.byteLength) return `${buf.byteLength - cursor.pos} bytes are left over after the record`;
  return undefined;
}

function walk(type: Type, c: Cursor, depth: number): void {
  if (depth > MAX_AVRO_DEPTH) throw new OutOfBounds(`nested deeper than ${MAX_AVRO_DEPTH} levels`);
  const t = type as Type & { itemsType?: Type; valuesType?: Type; types?: Type[]; fields?: { type: Type }[]; size?: number; underlyingType?: Type };
  switch (t.typeName) {
    case 'null':
      return;
    case 'boolean':
      return advance(c, 1);
    case 'int':
    case 'long':
    case 'enum':
      readVarint(c);
      return;
    case 'float':
      return advance(c, 4);
    case 'double':
      return advance(c, 8);
    case 'bytes':
    case 'string':
      return advance(c, length(c));
    case 'fixed':
      return advance(c, t.size!);
    case 'record':
    case 'error':
      for (const f of t.fields!) walk(f.type, c, depth + 1);
      return;
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branch = readVarint(c);
      const types = t.types!;
      if (branch < 0 || branch >= types.length) throw new OutOfBounds(`union branch ${branch} does not exist (the union has ${types.length})`);
      return walk(types[branch]!, c, depth + 1);
    }
    case 'array':
    case 'map': {
      const items = t.typeName === 'array' ? t.itemsType! : t.valuesType!;
      for (;;) {
        let n = readVarint(c);
        if (n === 0) return;
        if (n < 0) {
          n = -n;
          readVarint(c); // the block's size in bytes, which a reader may use to skip it
        }
        // Every item takes at least one byte, unless its type takes none (a map key always does).
        const remaining = c.buf.byteLength - c.pos;
        if (t.typeName === 'map' || takesBytes(items)) {
          if (n > remaining) throw new OutOfBounds(`a block claims ${n} items but only ${remaining} bytes are left`);
        } else if ((c.zeroWidth += n) > MAX_ZERO_WIDTH_ITEMS) {
          throw new OutOfBounds(`more than ${MAX_ZERO_WIDTH_ITEMS} items of a type that takes no bytes`);
        }
        for (let i = 0; i < n; i++) {
          if (t.typeName === 'map') advance(c, length(c));
          walk(items, c, depth + 1);
        }
      }
    }
    default:
      if (t.underlyingType) return walk(t.underlyingType, c, depth);
      throw new OutOfBounds(`the schema holds a type this reader does not know (${t.typeName})`);
  }
}

const repeats = new WeakMap<Type, boolean>();

/**
 * Whether the type holds an array or a map anywhere: only counts read from the bytes make avsc loop
 * more than the bytes allow. Without them every value read consumes bytes or is bounded by the
 * schema (recursion goes through a union, whose branch index takes a byte), so the guard can be
 * skipped. Remembered per type.
 */
export function needsBoundsCheck(type: Type): boolean {
  let known = repeats.get(type);
  if (known === undefined) {
    known = holdsRepetition(type, new Set());
    repeats.set(type, known);
  }
  return known;
}

function holdsRepetition(type: Type, seen: Set<Type>): boolean {
  if (seen.has(type)) return false;
  seen.add(type);
  const t = type as Type & { fields?: { type: Type }[]; types?: Type[]; underlyingType?: Type };
  if (t.typeName === 'array' || t.typeName === 'map') return true;
  const children = [...(t.fields?.map((f) => f.type) ?? []), ...(t.types ?? []), ...(t.underlyingType ? [t.underlyingType] : [])];
  return children.some((c) => holdsRepetition(c, seen));
}

/** Whether every value of the type takes at least one byte. */
function takesBytes(type: Type): boolean {
  const t = type as Type & { fields?: { type: Type }[]; size?: number; underlyingType?: Type };
  if (t.typeName === 'null') return false;
  if (t.typeName === 'fixed') return t.size! > 0;
  if (t.typeName === 'record' || t.typeName === 'error') return t.fields!.some((f) => takesBytes(f.type));
  if (t.underlyingType) return takesBytes(t.underlyingType);
  return true;
}

function advance(c: Cursor, n: number): void {
  if (n > c.buf.byteLength - c.pos) throw new OutOfBounds(`the record ends ${n - (c.buf.byteLength - c.pos)} bytes short`);
  c.pos += n;
}

function length(c: Cursor): number {
  const n = readVarint(c);
  if (n < 0) throw new OutOfBounds(`a negative length (${n})`);
  return n;
}

/** A zig-zag varint (Avro int and long), as a number; at most 10 bytes. */
function readVarint(c: Cursor): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= c.buf.byteLength) throw new OutOfBounds('the record ends inside a number');
    const b = c.buf[c.pos++]!;
    result += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
    scale *= 128;
  }
  throw new OutOfBounds('a number longer than 10 bytes');
}
