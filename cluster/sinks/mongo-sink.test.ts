// Integration against a real MongoDB: runs when MONGO_URL is set (docker compose provides one); no
// MongoDB server can be installed on the development machines, so it is reported skipped there.
import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { MongoSink } from './mongo-sink.ts';

const url = process.env.MONGO_URL;

describe.skipIf(!url)(`the MongoDB sink${url ? '' : ' (skipped: MONGO_URL is not set; no MongoDB server here)'}`, () => {
  it('upserts on a deterministic _id, ignores older revisions and applies retractions', async () => {
    const db = `shardflow_test_${process.pid}`;
    const sink = await MongoSink.connect(url!, db, 'results');
    const row = (revision: number, n: number) => ({ job: 'j', key: 'k', window_start: 0, window_end: 10, revision, n });
    await sink.write([{ op: 'upsert', row: row(0, 1) }]);
    await sink.write([{ op: 'upsert', row: row(1, 2) }]);
    await sink.write([{ op: 'upsert', row: row(0, 1) }]); // a replay of an older revision
    await sink.write([{ op: 'upsert', row: row(1, 2) }]); // a replay of the same revision
    const client = new MongoClient(url!);
    try {
      const docs = await client.db(db).collection('results').find().toArray();
      expect(docs).toEqual([{ _id: 'j|k|0|10', ...row(1, 2) }]);
      await sink.write([{ op: 'delete', job: 'j', key: 'k', window_start: 0, window_end: 10, revision: 1 }]);
      expect(await client.db(db).collection('results').countDocuments()).toBe(0);
      await client.db(db).dropDatabase();
    } finally {
      await client.close();
      await sink.close();
    }
  });
});
