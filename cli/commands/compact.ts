// `shardflow compact`: the batch layer. Compacts a job's new raw input events into Parquet files of
// the lake and prints what it wrote.
import { join } from 'node:path';
import { compactJob, type CompactionReport } from '../../batch/index.ts';
import type { Config } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { loadJob } from '../../jobs/catalog.ts';
import { progressBar, type Progress } from '../progress.ts';
import { connectNats, natsAccess } from '../../nats/connect.ts';

export const DEFAULT_ROWS_PER_FILE = 100_000;

export const COMPACT_HELP = `Usage: shardflow compact --job NAME [--out DIR] [--rows-per-file N]

Compacts the job's raw events, from where the last compaction stopped to the end of its input stream
when the run starts, into Parquet files readable by Spark, DuckDB, pandas or any Parquet reader.
Valid events become rows with one column per field of the job's schema plus _seq, _partition,
_event_time and _ingest_time; invalid events are counted, not written (the workers dead-letter them).
  --job NAME           the job (see \`shardflow jobs\`)
  --out DIR            root folder of the lake; files go to DIR/<job>/ (default <SHARDFLOW_DATA_DIR>/lake)
  --rows-per-file N    at most N rows per file (default ${DEFAULT_ROWS_PER_FILE})

Files are named by the stream sequences they cover (seq-<first>-<last>.parquet) and appear only
complete. Progress is kept in DIR/<job>/_manifest.json and in the file names themselves, so running
again adds only new events, never one twice, even after a killed run.`;

export interface CompactOptions {
  job: string;
  out?: string;
  rowsPerFile: number;
}

export async function compactCommand(options: CompactOptions, config: Config, log: Logger): Promise<number> {
  const job = await loadJob(options.job);
  const root = options.out ?? join(config.DATA_DIR, 'lake');
  const nc = await connectNats(natsAccess(config), { name: `compact-${process.pid}` });
  let bar: Progress | undefined;
  try {
    const began = performance.now();
    const report = await compactJob(nc, job, {
      root,
      rowsPerFile: options.rowsPerFile,
      progressEvery: 5_000,
      onProgress: (scanned, total) => (bar ??= progressBar(`compact ${job.name}`, total)).update(scanned),
    });
    if (bar) bar.done(report.to - report.from + 1);
    process.stdout.write(summary(report, (performance.now() - began) / 1000));
    log.info({ job: job.name, from: report.from, to: report.to, files: report.files.length, rows: report.rows, invalid: report.invalid }, 'compact finished');
  } finally {
    await nc.close();
  }
  return 0;
}

function summary(r: CompactionReport, seconds: number): string {
  if (r.from > r.to) return [`compact ${r.job}: nothing new since sequence ${r.to}; no file written (${r.folder})`, ...r.warnings.map((w) => `  warning  ${w}`)].join('\n') + '\n';
  const reasons = Object.entries(r.invalidByReason).map(([reason, n]) => `${reason} ${n}`);
  const ratio = r.rawBytes > 0 ? ` (${((r.parquetBytes / r.rawBytes) * 100).toFixed(0)}% of ${bytes(r.rawBytes)} of raw JSON)` : '';
  const lines = [
    `compact ${r.job}: sequences ${r.from}-${r.to} in ${seconds.toFixed(1)} s`,
    `  files written   ${r.files.length} in ${r.folder}`,
    ...r.files.map((f) => `    ${f.name}  ${f.rows} rows  ${bytes(f.bytes)}`),
    `  rows            ${r.rows}`,
    `  invalid skipped ${r.invalid}${reasons.length ? ` (${reasons.join(', ')})` : ''}`,
    `  control skipped ${r.controlMessages}`,
    `  bytes           ${bytes(r.parquetBytes)} of Parquet${ratio}`,
    ...r.plan.notes.map((n) => `  note     ${n}`),
    ...r.warnings.map((w) => `  warning  ${w}`),
  ];
  return lines.join('\n') + '\n';
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
