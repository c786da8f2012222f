// The batch layer: compacts a job's raw input events, from where the last run stopped up to the end
// of the input stream when this run starts, into Parquet files of the job's lake folder. Events are
// judged exactly as the workers judge them (decodeEvent with the stream's ingest time); invalid ones
// are counted, not written (the workers dead-letter them); watermark control messages are skipped.
import type { NatsConnection } from '@nats-io/transport-node';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { readInputEntry } from '../common/input-log.ts';
import { inputStream } from '../common/names.ts';
import type { Job } from '../jobs/define-job.ts';
import { decodeEvent, type DeadLetterReason } from '../jobs/event-decoder.ts';
import { payloadDecoderFor, registrySchemaCache } from '../schema/registry-reader.ts';
import type { BatchSchemas } from '../schema/writer-schema-cache.ts';
import { LakeFolder } from './lake-folder.ts';
import { FileCutter, lastCompactedSeq, makeManifest, type Chunk } from './lake-layout.ts';
import { columnData, planColumns, type ColumnPlan, type LakeRow } from './parquet-columns.ts';
import { readStreamRange, streamBounds } from './stream-range.ts';

export type SkipReason = DeadLetterReason | 'not-a-partition-subject';

export interface CompactionOptions {
  /** Root folder of the lake; the job's files go to `<root>/<job>/`. */
  root: string;
  /** At most this many rows per Parquet file. */
  rowsPerFile: number;
  /** Called every `progressEvery` scanned messages with the count so far and the run's total. */
  onProgress?: (scanned: number, total: number) => void;
  progressEvery?: number;
}

export interface WrittenFile {
  readonly name: string;
  readonly first: number;
  readonly last: number;
  readonly rows: number;
  readonly bytes: number;
}

export interface CompactionReport {
  readonly job: string;
  readonly folder: string;
  /** Sequences scanned by this run, inclusive; from > to when there was nothing new. */
  readonly from: number;
  readonly to: number;
  readonly scanned: number;
  readonly rows: number;
  readonly invalid: number;
  readonly invalidByReason: Partial<Record<SkipReason, number>>;
  readonly controlMessages: number;
  /** Sequences of the range the stream no longer held (removed by retention before any compaction). */
  readonly missing: number;
  readonly files: readonly WrittenFile[];
  readonly parquetBytes: number;
  /** Bytes of the raw events scanned (valid and invalid), to compare with the Parquet output. */
  readonly rawBytes: number;
  readonly plan: ColumnPlan;
  readonly warnings: readonly string[];
}

export async function compactJob<E>(nc: NatsConnection, job: Job<E>, options: CompactionOptions): Promise<CompactionReport> {
  if (!Number.isInteger(options.rowsPerFile) || options.rowsPerFile < 1) throw new RangeError(`rowsPerFile must be a whole number >= 1, got ${options.rowsPerFile}`);
  const plan = planColumns(job.schema);
  const stream = inputStream(job.name);
  const folder = LakeFolder.open(options.root, job.name);
  try {
    const done = lastCompactedSeq(folder.fileNames(), folder.readManifest());
    const bounds = await streamBounds(nc, stream, `publish events first (shardflow produce --job ${job.name}) or check SHARDFLOW_NATS_URL`);
    const from = done + 1;
    // The bound taken now makes the run a finite batch while producers keep publishing.
    const to = Math.max(bounds.last, done);
    const total = to - from + 1;
    const warnings: string[] = [];
    if (bounds.last < done) {
      warnings.push(`the stream ends at sequence ${bounds.last} but the lake holds events up to ${done}: was ${stream} deleted and created again? Nothing compacted; move ${folder.path} away to start over`);
    }
    const missing = total > 0 ? Math.max(0, Math.min(bounds.first, to + 1) - from) : 0;
    if (missing > 0) warnings.push(`${missing} sequences (${from}-${from + missing - 1}) were removed from ${stream} before they were compacted`);

    const stats = { scanned: 0, rows: 0, invalid: 0, controlMessages: 0, rawBytes: 0, invalidByReason: {} as Partial<Record<SkipReason, number>> };
    const files: WrittenFile[] = [];
    const write = (chunk: Chunk<LakeRow>) => {
      const bytes = new Uint8Array(parquetWriteBuffer({ columnData: columnData(plan, chunk.rows), kvMetadata: [{ key: 'shardflow.job', value: job.name }], createdBy: 'shardflow compact' }));
      const name = folder.writeParquet(chunk, bytes);
      files.push({ name, first: chunk.first, last: chunk.last, rows: chunk.rows.length, bytes: bytes.byteLength });
    };

    const every = options.progressEvery ?? 1_000;
    const cutter = new FileCutter<LakeRow>(from, options.rowsPerFile);
    // An Avro job's events decode with the schemas their ids name in the cluster's registry.
    const schemas = job.format === 'avro' ? registrySchemaCache(nc) : undefined;
    let batchSchemas: BatchSchemas = new Map();
    const payload = payloadDecoderFor(job as Job<unknown>, (id) => batchSchemas.get(id));
    const readFrom = Math.max(from, bounds.first);
    const source = bounds.messages > 0 && readFrom <= to ? readStreamRange(nc, stream, readFrom, to) : [];
    for await (const m of source) {
      stats.scanned++;
      if (stats.scanned % every === 0) options.onProgress?.(m.seq - from + 1, total);
      const entry = readInputEntry(job.name, m);
      if (entry?.kind === 'marker') {
        stats.controlMessages++;
        continue;
      }
      stats.rawBytes += m.data.byteLength;
      const rows: LakeRow[] = [];
      // A subject the workers do not read is not dead-lettered by them either; count it apart.
      const skip = (reason: SkipReason) => {
        stats.invalid++;
        stats.invalidByReason[reason] = (stats.invalidByReason[reason] ?? 0) + 1;
      };
      if (!entry) skip('not-a-partition-subject');
      else if (!entry.events) skip('malformed-batch');
      else {
        if (schemas) batchSchemas = await schemas.prepare(entry.events);
        for (const [index, data] of entry.events.entries()) {
          const decoded = decodeEvent(job, data, m.timestamp, payload);
          if (!decoded.ok) {
            skip(decoded.reason);
            continue;
          }
          rows.push({ event: decoded.event, meta: { seq: m.seq, index, partition: entry.partition, eventTime: decoded.eventTime, ingestTime: m.timestamp } });
        }
      }
      stats.rows += rows.length;
      const chunk = cutter.add(m.seq, rows);
      if (chunk) write(chunk);
    }
    if (total > 0) {
      const last = cutter.finish(to);
      if (last) write(last);
      folder.writeManifest(makeManifest(job.name, stream, to, plan, new Date()));
      options.onProgress?.(total, total);
    }
    const parquetBytes = files.reduce((sum, f) => sum + f.bytes, 0);
    return { job: job.name, folder: folder.path, from, to, ...stats, missing, files, parquetBytes, plan, warnings };
  } finally {
    folder.release();
  }
}
