// The shell's side of Avro decoding: before a partition task (or an ingest router) decodes a batch,
// the schemas its events name are fetched from the registry (or found here) and handed over as a map
// of that batch's ids, so the pure decoder finds them with a synchronous lookup. The map belongs to
// the batch: the cache is shared by every partition of a worker, and another partition's batch may
// evict an entry between this one's preparation and its decoding. Schemas by id never change, so a known id stays valid for good; an
// id the registry does not hold is remembered as unknown for a few seconds only (it may be
// registered later). The cache holds at most `capacity` ids, the least recently used leave first,
// except those of the batch being prepared.
import type { Type } from 'avsc';
import { eventsOf } from '../common/event-batch.ts';
import { metrics } from '../common/metrics.ts';
import type { InputRecord } from '../task/effects.ts';
import { parseAvroSchema } from './compatibility.ts';
import { schemaIdOf } from './wire-format.ts';

/** Default ceiling: schemas parsed and kept per process. */
export const WRITER_SCHEMA_CACHE_MAX = 1_000;
/** How long an id the registry did not hold counts as unknown before it is asked for again, ms. */
export const UNKNOWN_SCHEMA_TTL_MS = 5_000;
/** Registry reads at once while preparing a batch. */
const FETCH_CONCURRENCY = 16;

/** The writer schemas of one batch's ids. */
export type BatchSchemas = ReadonlyMap<number, Type | null>;

/** The schema text of an id, undefined when the registry holds none; throws when it cannot be asked. */
export type SchemaFetcher = (id: number) => Promise<string | undefined>;

interface Entry {
  readonly type: Type | null;
  readonly at: number;
}

export class WriterSchemaCache {
  private readonly entries = new Map<number, Entry>();

  constructor(
    private readonly fetch: SchemaFetcher,
    private readonly capacity = WRITER_SCHEMA_CACHE_MAX,
    private readonly clock: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Whether the id is resolved here now (for tests and status). */
  holds(id: number): boolean {
    return this.entries.has(id);
  }

  /** The type of every schema id these payloads name (null: the registry holds no such id). */
  async prepare(payloads: Iterable<Uint8Array>): Promise<BatchSchemas> {
    const ids = new Set<number>();
    for (const p of payloads) {
      const id = schemaIdOf(p);
      if (id !== undefined) ids.add(id);
    }
    const batch = new Map<number, Type | null>();
    if (ids.size === 0) return batch;
    const now = this.clock();
    const missing: number[] = [];
    for (const id of ids) {
      const entry = this.entries.get(id);
      if (entry && (entry.type !== null || now - entry.at < UNKNOWN_SCHEMA_TTL_MS)) {
        this.entries.delete(id); // most recently used goes last
        this.entries.set(id, entry);
      } else {
        missing.push(id);
      }
    }
    for (let i = 0; i < missing.length; i += FETCH_CONCURRENCY) {
      const chunk = missing.slice(i, i + FETCH_CONCURRENCY);
      const texts = await Promise.all(chunk.map((id) => this.fetch(id)));
      chunk.forEach((id, j) => {
        this.entries.delete(id);
        const type = toType(texts[j]);
        this.entries.set(id, { type, at: now });
        metrics.schemaLookups.inc({ result: type ? 'found' : 'unknown' });
      });
    }
    for (const id of this.entries.keys()) {
      if (this.entries.size <= this.capacity) break;
      if (!ids.has(id)) this.entries.delete(id);
    }
    metrics.schemaCacheEntries.set(this.entries.size);
    for (const id of ids) batch.set(id, this.entries.get(id)!.type);
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
