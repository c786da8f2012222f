// The live results of each job for the console. A job whose results are in the cluster's KV bucket
// is watched (every window result arrives as it is written); one that writes to PostgreSQL or JSON
// files is read again every POLL_MS. Either way at most KEEP_ROWS rows per job are kept (the latest
// windows), and `version` grows whenever a job's rows change, so pages know when to ask again.
import type { KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { sinkDefaults, type Config } from '../common/config.ts';
import { resultsBucket } from '../common/names.ts';
import { readFileResults, readPostgresResults, type ResultRow } from '../cluster/sinks/index.ts';
import type { JobRecord } from '../coordinator/job-registry.ts';
import { openBucket } from '../nats/topology.ts';

export const KEEP_ROWS = 5_000;
const POLL_MS = 3_000;

interface JobResults {
  rows: Map<string, ResultRow>;
  version: number;
  /** Why results cannot be shown (a MongoDB sink, an unreachable database). */
  problem?: string;
  /** The rows last read from a polled sink, as JSON: a read that finds the same is no change. */
  snapshot?: string;
  stop: () => void;
}

export class ResultsFeed {
  private readonly jobs = new Map<string, JobResults>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly config: Config,
    private readonly onChange: (job: string) => void,
  ) {}

  /** Starts following every job in `records` not followed yet. */
  follow(records: readonly JobRecord[]): void {
    for (const record of records) if (!this.jobs.has(record.name)) this.start(record);
  }

  rows(job: string, limit = KEEP_ROWS): { rows: ResultRow[]; version: number; problem?: string } {
    const j = this.jobs.get(job);
    if (!j) return { rows: [], version: 0, problem: `job ${job} is not registered (no worker has run it)` };
    const rows = [...j.rows.values()].sort((a, b) => b.window_start - a.window_start || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).slice(0, limit);
    return { rows, version: j.version, ...(j.problem ? { problem: j.problem } : {}) };
  }

  version(job: string): number {
    return this.jobs.get(job)?.version ?? 0;
  }

  close(): void {
    for (const j of this.jobs.values()) j.stop();
  }

  private start(record: JobRecord): void {
    const state: JobResults = { rows: new Map(), version: 0, stop: () => {} };
    this.jobs.set(record.name, state);
    const changed = () => {
      state.version++;
      trim(state.rows);
      this.onChange(record.name);
    };
    if (record.sink.type === 'kv') void this.watchKv(record.name, state, changed);
    else if (record.sink.type === 'postgres' || record.sink.type === 'files') this.poll(record, state, changed);
    else state.problem = `job ${record.name} writes to MongoDB (${record.sink.database}.${record.sink.collection}): read its results there`;
  }

  private async watchKv(job: string, state: JobResults, changed: () => void): Promise<void> {
    try {
      const kv = await openBucket(this.nc, resultsBucket(job), this.config.REPLICAS);
      const watch = await kv.watch({ key: 'w.>' });
      state.stop = () => watch.stop();
      let pending: ReturnType<typeof setTimeout> | undefined;
      for await (const e of watch as AsyncIterable<KvWatchEntry>) {
        if (e.operation === 'PUT') state.rows.set(e.key, e.json() as ResultRow);
        else state.rows.delete(e.key);
        // One notice per burst: a window closing writes one row per key.
        pending ??= setTimeout(() => {
          pending = undefined;
          changed();
        }, 200);
      }
    } catch (err) {
      state.problem = `results of ${job} not readable: ${(err as Error).message}`;
    }
  }

  private poll(record: JobRecord, state: JobResults, changed: () => void): void {
    const defaults = sinkDefaults(this.config);
    const read = async () => {
      try {
        const rows =
          record.sink.type === 'postgres'
            ? await readPostgresResults(record.sink.url && !record.sink.url.includes('***') ? record.sink.url : defaults.postgresUrl, record.sink.table!, record.name)
            : await readFileResults(record.sink.dir ?? defaults.filesDir, record.name);
        const text = JSON.stringify(rows.slice(-KEEP_ROWS));
        if (text !== state.snapshot) {
          state.snapshot = text;
          state.rows = new Map(rows.map((r) => [`${r.key}|${r.window_start}|${r.window_end}`, r]));
          delete state.problem;
          changed();
        }
      } catch (err) {
        state.problem = `results of ${record.name} not readable: ${(err as Error).message}`;
      }
    };
    void read();
    const timer = setInterval(() => void read(), POLL_MS);
    state.stop = () => clearInterval(timer);
  }
}

/** Keeps the KEEP_ROWS rows of the latest windows. */
function trim(rows: Map<string, ResultRow>): void {
  if (rows.size <= KEEP_ROWS) return;
  const oldest = [...rows].sort(([, a], [, b]) => a.window_start - b.window_start).slice(0, rows.size - KEEP_ROWS);
  for (const [k] of oldest) rows.delete(k);
}
