// MongoDB sink (seed 000 writes its results there): bulk upserts on a deterministic _id
// "<key>|<start>|<end>", guarded so a stored document is only replaced by an equal or newer revision.
import { MongoClient, type Collection } from 'mongodb';
import { withRetry, type Sink, type SinkWrite } from './sink.ts';

interface ResultDoc {
  _id: string;
  revision: number;
  [field: string]: unknown;
}

export class MongoSink implements Sink {
  private constructor(
    private readonly client: MongoClient,
    private readonly collection: Collection<ResultDoc>,
  ) {}

  static async connect(url: string, database: string, collection: string): Promise<MongoSink> {
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000 });
    await client.connect();
    return new MongoSink(client, client.db(database).collection<ResultDoc>(collection));
  }

  async write(batch: readonly SinkWrite[]): Promise<void> {
    if (batch.length === 0) return;
    const ops = batch.map((w) => {
      if (w.op === 'upsert') {
        const _id = `${w.row.key}|${w.row.window_start}|${w.row.window_end}`;
        // Replace only if absent or not newer; an older-revision upsert hits the unique _id and is ignored.
        return { replaceOne: { filter: { _id, revision: { $lte: w.row.revision } }, replacement: { _id, ...w.row }, upsert: true } };
      }
      return { deleteOne: { filter: { _id: `${w.key}|${w.window_start}|${w.window_end}`, revision: { $lte: w.revision } } } };
    });
    await withRetry(
      `MongoDB bulk write of ${ops.length}`,
      5,
      async () => {
        try {
          await this.collection.bulkWrite(ops, { ordered: true });
        } catch (err) {
          // Duplicate _id: a newer revision is stored; everything else is a real failure.
          const writeErrors = (err as { writeErrors?: { code: number }[] }).writeErrors;
          if (writeErrors && writeErrors.every((e) => e.code === 11000)) {
            // ordered: true stops at the first error; redo the rest one by one.
            for (const op of ops) await this.collection.bulkWrite([op], { ordered: true }).catch((e) => ignoreDuplicate(e));
            return;
          }
          throw err;
        }
      },
      (err) => (err as { code?: number }).code === 13 /* Unauthorized */,
    );
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

function ignoreDuplicate(err: unknown): void {
  const writeErrors = (err as { writeErrors?: { code: number }[]; code?: number }).writeErrors;
  if ((writeErrors && writeErrors.every((e) => e.code === 11000)) || (err as { code?: number }).code === 11000) return;
  throw err;
}
