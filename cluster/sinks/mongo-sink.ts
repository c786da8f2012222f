// MongoDB sink (seed 000 writes its results there): bulk upserts on a deterministic _id
// "<job>|<key>|<start>|<end>" (two jobs may share a collection), guarded so a stored document is only
// replaced by an equal or newer revision. Unordered bulk writes: a document MongoDB refuses (too
// large, a field name it cannot hold) is returned as rejected while the rest are written.
import { MongoClient, type AnyBulkWriteOperation, type Collection } from 'mongodb';
import { sanitizeRow, withRetry, type RejectedWrite, type Sink, type SinkWrite, type SinkWriteOutcome } from './sink.ts';

interface ResultDoc {
  _id: string;
  revision: number;
  [field: string]: unknown;
}

/** Duplicate key: the revision guard found a newer document (not a failure). */
const DUPLICATE_KEY = 11000;
/** Errors that blame the document itself. */
const DOCUMENT_FAULTS = new Set([2 /* BadValue */, 10334 /* BSONObjectTooLarge */, 17419 /* document too large */, 52 /* DollarPrefixedFieldName */, 57 /* InvalidDBRef */, 14 /* TypeMismatch */]);

export function mongoId(job: string, key: string, start: number, end: number): string {
  return `${job}|${key}|${start}|${end}`;
}

export class MongoSink implements Sink {
  private constructor(
    private readonly client: MongoClient,
    private readonly collection: Collection<ResultDoc>,
  ) {}

  static async connect(url: string, database: string, collection: string): Promise<MongoSink> {
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000 });
    await withRetry(`MongoDB connection to ${redactUrl(url)}`, 3, () => client.connect().then(() => undefined), (err) => (err as { code?: number }).code === 18 /* AuthenticationFailed */);
    return new MongoSink(client, client.db(database).collection<ResultDoc>(collection));
  }

  async write(batch: readonly SinkWrite[]): Promise<SinkWriteOutcome> {
    if (batch.length === 0) return { rejected: [] };
    const ops: AnyBulkWriteOperation<ResultDoc>[] = batch.map((w) => {
      if (w.op === 'upsert') {
        const _id = mongoId(w.row.job, w.row.key, w.row.window_start, w.row.window_end);
        // Replace only if absent or not newer; an older-revision upsert hits the unique _id and is ignored.
        return { replaceOne: { filter: { _id, revision: { $lte: w.row.revision } }, replacement: { _id, ...sanitizeRow(w.row) }, upsert: true } };
      }
      return { deleteOne: { filter: { _id: mongoId(w.job, w.key, w.window_start, w.window_end), revision: { $lte: w.revision } } } };
    });
    const rejected: RejectedWrite[] = [];
    await withRetry(
      `MongoDB bulk write of ${ops.length}`,
      5,
      async () => {
        rejected.length = 0;
        try {
          await this.collection.bulkWrite(ops, { ordered: false });
        } catch (err) {
          const writeErrors = (err as { writeErrors?: { code: number; index: number; errmsg?: string }[] }).writeErrors;
          if (!writeErrors || writeErrors.length === 0) throw err;
          for (const e of writeErrors) {
            if (e.code === DUPLICATE_KEY) continue;
            if (!DOCUMENT_FAULTS.has(e.code)) throw err;
            rejected.push({ write: batch[e.index]!, message: `MongoDB ${e.code}: ${e.errmsg ?? 'refused'}` });
          }
        }
      },
      (err) => (err as { code?: number }).code === 13 /* Unauthorized */,
    );
    return { rejected };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** A connection string without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
