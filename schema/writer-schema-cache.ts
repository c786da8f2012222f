// The shell's side of Avro decoding: before a partition task (or an ingest router) decodes a batch,
// the schemas its events name are fetched from the registry (or found here) and handed over as a map
// of that batch's ids, so the pure decoder finds them with a synchronous lookup. The map belongs to
// the batch: the cache is shared by every partition of a worker, and another partition's batch may
// evict an entry between this one's preparation and its decoding.
//
// Schemas by id never change, so a known id is kept (at most `capacity` of them, the least recently
// used leaving first, never one of the batch being prepared). An id the registry does not hold is not
// remembered: it may be registered a moment later, and an event judged unknown from a stale memory
// here, while the router on another worker already knew the id, would be judged differently by a
// replay. Each batch that names an unknown id asks for it once, unless the id is above the last one
// the registry has given out (then it is unknown without asking): a flood of made-up ids costs one
// read per batch, not one per id.
import type { Type } from 'avsc';
import { eventsOf } from '../common/event-batch.ts';
import { metrics } from '../common/metrics.ts';
import type { InputRecord } from '../task/effects.ts';
import { parseAvroSchema } from './compatibility.ts';
import { schemaIdOf } from './wire-format.ts';

/** Default ceiling: schemas parsed and kept per process. */
export const WRITER_SCHEMA_CACHE_MAX = 1_000;
/** Registry reads at once while preparing a batch. */
const FETCH_CONCURRENCY = 16;

/** The writer schemas of one batch's ids (null: the registry holds no such id). */
export type BatchSchemas = ReadonlyMap<number, Type | null>;

/** What the cache reads from the registry; each throws when the registry cannot be asked. */
export interface SchemaFetcher {
  /** The schema text of an id, undefined when the registry holds none. */
  schema(id: number): Promise<string | undefined>;
  /** The last id the registry has given out (0: none). */
  lastId(): Promise<number>;
}

export class WriterSchemaCache {
  private readonly entries = new Map<number, Type>();

  constructor(
    private readonly fetch: SchemaFetcher,
    private readonly capacity = WRITER_SCHEMA_CACHE_MAX,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Whether the id's schema is kept here now (for tests and status). */
  holds(id: number): boolean {
    return this.entries.has(id);
  }

  /** The type of every schema id these payloads name. */
  async prepare(payloads: Iterable<Uint8Array>): Promise<BatchSchemas> {
    const batch = new Map<number, Type | null>();
    const missing: number[] = [];
    for (const p of payloads) {
      const id = schemaIdOf(p);
      if (id === undefined || batch.has(id)) continue;
      const type = this.entries.get(id);
      if (type) {
        this.entries.delete(id); // most recently used goes last
        this.entries.set(id, type);
        batch.set(id, type);
      } else {
        batch.set(id, null);
        missing.push(id);
      }
    }
    const last = missing.length > 0 ? await this.fetch.lastId() : 0;
    const given = missing.filter((id) => id <= last);
    for (let i = 0; i < given.length; i += FETCH_CONCURRENCY) {
      const chunk = given.slice(i, i + FETCH_CONCURRENCY);
      const texts = await Promise.all(chunk.map((id) => this.fetch.schema(id)));
      chunk.forEach((id, j) => {
        const type = toType(texts[j]);
        metrics.schemaLookups.inc({ result: type ? 'found' : 'unknown' });
        if (!type) return;
        this.entries.set(id, type);
        batch.set(id, type);
      });
    }
    for (const id of this.entries.keys()) {
      if (this.entries.size <= this.capacity) break;
      if (!batch.has(id)) this.entries.delete(id);
    }
    metrics.schemaCacheEntries.set(this.entries.size);
    return batch;
  }

  /** `prepare` for the messages of a partition's log. */
  prepareRecords(records: readonly InputRecord[]): Promise<BatchSchemas> {
    return this.prepare(payloadsOf(records));
  }
}

function* payloadsOf(records: readonly InputRecord[]): Iterable<Uint8Array> {
  for (const r of records) if (r.kind === 'events') yield* eventsOf(r.data, r.batch) ?? [];
}

/** A stored schema always parsed when it was registered; one that no longer does counts as unknown. */
function toType(text: string | undefined): Type | null {
  if (text === undefined) return null;
  try {
    return parseAvroSchema(JSON.parse(text));
  } catch {
    return null;
  }
}
