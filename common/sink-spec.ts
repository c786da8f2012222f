// Where a job's results go. Every sink writes idempotently, keyed by (job, key, window start, end),
// so replaying after a crash rewrites identical rows and adds none.
import { z } from 'zod';
import { parseDuration } from './duration.ts';

export const sinkSpecSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('kv'),
    ttl: z
      .union([z.number(), z.string()])
      .transform((value, ctx) => {
        try {
          return parseDuration(value, 'sink.ttl');
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      })
      .optional()
      .describe('how long a result is kept after its last write (e.g. "7d"); default: forever'),
  }).describe('results in a JetStream KV bucket of the cluster (the embedded default); read with `shardflow results`'),
  z.strictObject({
    type: z.literal('mongodb'),
    url: z.string().min(1).describe('mongodb:// connection string'),
    database: z.string().min(1),
    collection: z.string().min(1),
  }),
  z.strictObject({
    type: z.literal('postgres'),
    url: z.string().min(1).optional().describe("postgres:// connection string; default: the cluster's SHARDFLOW_POSTGRES_URL setting"),
    table: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a lowercase SQL identifier'),
  }),
  z.strictObject({
    type: z.literal('files'),
    dir: z.string().min(1).optional().describe('folder that receives one JSON file per window; default: a `results` folder under the data dir'),
  }),
]);

export type SinkSpec = z.infer<typeof sinkSpecSchema>;
/** What a job definition writes (durations as text allowed). */
export type SinkSpecInput = z.input<typeof sinkSpecSchema>;

/** Where a deployment's settings fill in what a job's sink leaves open (its database, its folder). */
export interface SinkDefaults {
  postgresUrl: string;
  /** Folder under which the files sink writes when the job names none. */
  filesDir: string;
}

export function withSinkDefaults(spec: SinkSpec, defaults: SinkDefaults): SinkSpec {
  if (spec.type === 'postgres') return { ...spec, url: spec.url ?? defaults.postgresUrl };
  if (spec.type === 'files') return { ...spec, dir: spec.dir ?? defaults.filesDir };
  return spec;
}
