// Where a job's results go. Every sink writes idempotently, keyed by (job, key, window start, end),
// so replaying after a crash rewrites identical rows and adds none.
import { z } from 'zod';

export const sinkSpecSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('kv'),
  }).describe('results in a JetStream KV bucket of the cluster (the embedded default); read with `shardflow results`'),
  z.strictObject({
    type: z.literal('mongodb'),
    url: z.string().min(1).describe('mongodb:// connection string'),
    database: z.string().min(1),
    collection: z.string().min(1),
  }),
  z.strictObject({
    type: z.literal('postgres'),
    url: z.string().min(1).describe('postgres:// connection string'),
    table: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a lowercase SQL identifier'),
  }),
  z.strictObject({
    type: z.literal('files'),
    dir: z.string().min(1).describe('folder that receives one JSON file per window'),
  }),
]);

export type SinkSpec = z.infer<typeof sinkSpecSchema>;
