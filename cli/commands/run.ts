// `shardflow run`: runs one job over generated (or NDJSON) events in this process and writes its
// results as NDJSON, one line per window and key.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { describeWindow } from '../../engine/window.ts';
import type { WindowResult } from '../../engine/records.ts';
import { loadJob } from '../../jobs/catalog.ts';
import { loadRawEvents } from '../raw-events.ts';
import { runLocal } from '../../jobs/local-runner.ts';
import { progressBar } from '../progress.ts';

export const RUN_HELP = `Usage: shardflow run --job NAME [--events N] [--seed N] [--input FILE] [--out FILE]

Runs a job in this process, partitioned exactly as the cluster does, and writes its results.
  --job NAME      the job to run (see \`shardflow jobs\`)
  --events N      how many events the job's generator makes (default 20000)
  --seed N        seed of the generator, same seed same events (default 1)
  --input FILE    read raw events from an NDJSON file instead of the generator
  --out FILE      results file (default <SHARDFLOW_DATA_DIR>/results/<job>.ndjson)`;

export interface RunOptions {
  job: string;
  events: number;
  seed: number;
  input?: string;
  out?: string;
}

export async function runCommand(options: RunOptions, config: Config, log: Logger): Promise<number> {
  const job = await loadJob(options.job);
  const raws = loadRawEvents(job, options);
  log.info({ job: job.name, events: raws.length }, 'run started');
  const bar = progressBar('events', raws.length);
  const began = performance.now();
  const run = runLocal(job, raws, { onProgress: (n) => bar.update(n), progressEvery: 5_000 });
  bar.done(raws.length);
  const seconds = (performance.now() - began) / 1000;

  // The latest revision of each window is its result (late updates overwrite, as in every sink).
  const latest = new Map<string, WindowResult>();
  for (const r of run.records) {
    if (r.type === 'result') latest.set(`${r.key}\u0000${r.start}`, r);
    else if (r.type === 'retract') latest.delete(`${r.key}\u0000${r.start}`);
  }
  const rows = [...latest.values()].sort((a, b) => a.start - b.start || (a.key < b.key ? -1 : 1));
  const out = options.out ?? join(config.DATA_DIR, 'results', `${job.name}.ndjson`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, rows.map((r) => JSON.stringify({ job: job.name, key: r.key, window_start: r.start, window_end: r.end, ...r.values, revision: r.revision })).join('\n') + '\n');

  const byReason = new Map<string, number>();
  for (const d of run.deadLetters) byReason.set(d.reason, (byReason.get(d.reason) ?? 0) + 1);
  const late = run.records.filter((r) => r.type === 'late').length;
  const lines = [
    `shardflow run: ${job.name} — ${job.description}`,
    `  window          ${describeWindow(job.window)}, ${job.partitions} partitions, aggregates: ${Object.keys(job.aggregates).join(', ')}`,
    `  events in       ${run.eventsIn} in ${seconds.toFixed(2)} s (${Math.round(run.eventsIn / seconds).toLocaleString('en-US')} events/s)`,
    `  dead-lettered   ${run.deadLetters.length}${byReason.size ? ` (${[...byReason].map(([r, n]) => `${r} ${n}`).join(', ')})` : ''}`,
    `  late            ${late}`,
    `  results         ${rows.length} windows x keys -> ${out}`,
    '',
    ...table(rows.slice(-8)),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  log.info({ job: job.name, results: rows.length, deadLetters: run.deadLetters.length, late }, 'run finished');
  return 0;
}

function table(rows: WindowResult[]): string[] {
  if (rows.length === 0) return [];
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : JSON.stringify(v));
  const names = Object.keys(rows[0]!.values).filter((n) => rows.every((r) => typeof r.values[n] !== 'object' || r.values[n] === null));
  const header = ['window (UTC)', 'key', ...names];
  const body = rows.map((r) => [`${new Date(r.start).toISOString().slice(11, 16)}-${new Date(r.end).toISOString().slice(11, 16)}`, r.key, ...names.map((n) => fmt(r.values[n]))]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => '  ' + cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return ['  latest results:', line(header), ...body.map(line)];
}
