// The sinks side by side: the same 10,000 window results (1,000 keys x 10 windows, count/sum/avg)
// written in batches of 500, as a partition writes fired panes, to the KV bucket, PostgreSQL and JSON
// files; then the same batches again (a replay after a crash: every write meets the revision guard).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { FilesSink, KvSink, PostgresSink, type Sink, type SinkWrite } from '../cluster/sinks/index.ts';
import { openBucket } from '../cluster/topology.ts';
import type { Figure } from './results-file.ts';
import { withNats } from './cluster-support.ts';

const KEYS = 1_000;
const WINDOWS = 10;
const BATCH = 500;
const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

function batches(): SinkWrite[][] {
  const writes: SinkWrite[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    for (let k = 0; k < KEYS; k++) {
      const start = Date.UTC(2026, 0, 1) + w * 1_000;
      writes.push({ op: 'upsert', row: { job: 'bench', key: `key-${k}`, window_start: start, window_end: start + 1_000, count: 50 + k, sum: k * 7, avg: k / 3, revision: 0 } });
    }
  }
  const out: SinkWrite[][] = [];
  for (let i = 0; i < writes.length; i += BATCH) out.push(writes.slice(i, i + BATCH));
  return out;
}

async function timeWrites(sink: Sink, all: SinkWrite[][]): Promise<number> {
  const began = performance.now();
  for (const b of all) await sink.write(b);
  return (KEYS * WINDOWS) / ((performance.now() - began) / 1000);
}

export async function sinkThroughput(log: (line: string) => void): Promise<Figure[]> {
  const all = batches();
  const figures: Figure[] = [];
  const measure = async (name: string, sink: Sink) => {
    const first = await timeWrites(sink, all);
    const replay = await timeWrites(sink, all);
    log(`${name.padEnd(9)} ${Math.round(first).toLocaleString('en-US').padStart(9)} rows/s first write, ${Math.round(replay).toLocaleString('en-US').padStart(9)} rows/s replay`);
    figures.push({ name: `sink.${name}.rows_per_s`, value: Math.round(first), unit: 'rows/s' }, { name: `sink.${name}.replay_rows_per_s`, value: Math.round(replay), unit: 'rows/s' });
  };

  await withNats(async (_server, nc) => {
    const sink = new KvSink(await openBucket(nc, 'shardflow-results-bench-sink', 1));
    await measure('kv', sink);
    await sink.close();
  });

  const table = `bench_sink_${process.pid}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  const reachable = await admin.connect().then(
    () => true,
    (err: Error) => (log(`postgres  skipped: ${POSTGRES_URL} unreachable (${err.message})`), false),
  );
  if (reachable) {
    try {
      const sink = await PostgresSink.open(POSTGRES_URL, table);
      await measure('postgres', sink);
      await sink.close();
    } finally {
      await admin.query(`DROP TABLE IF EXISTS ${table}`);
      await admin.end();
    }
  }

  const dir = mkdtempSync(join(tmpdir(), 'shardflow-bench-files-'));
  try {
    const sink = await FilesSink.open(dir, 'bench');
    await measure('files', sink);
    await sink.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const kv = figures.find((f) => f.name === 'sink.kv.rows_per_s')!.value;
  for (const f of figures.filter((f) => f.name.endsWith('.rows_per_s') && f.name !== 'sink.kv.rows_per_s')) {
    log(`${f.name.split('.')[1]} / kv: ${(f.value / kv).toFixed(2)}`);
    figures.push({ name: `sink.${f.name.split('.')[1]}_vs_kv_ratio`, value: Number((f.value / kv).toFixed(3)), unit: 'ratio' });
  }
  return figures;
}
