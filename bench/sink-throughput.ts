// The sinks side by side: the same 10,000 window results (1,000 keys x 10 windows, count/sum/avg)
// written in batches of 500, as a partition writes fired panes, to the KV bucket, PostgreSQL and JSON
// files; then the same batches again (a replay after a crash: every write meets the revision guard).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { FilesSink, KvSink, PostgresSink, type Sink, type SinkWrite } from '../cluster/sinks/index.ts';
import { AsyncPublisher } from '../nats/async-publisher.ts';
import { openBucket } from '../nats/topology.ts';
import type { Figure } from './results-file.ts';
import type { Scenario } from './scenario.ts';
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
    const publisher = new AsyncPublisher(nc);
    const sink = new KvSink(await openBucket(nc, 'shardflow-results-bench-sink', 1), 'shardflow-results-bench-sink', publisher, nc.info!.max_payload);
    await measure('kv', sink);
    await sink.close();
    publisher.close();
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

export const sinkThroughputScenario: Scenario = {
  name: 'sink-throughput',
  title: 'Sinks side by side',
  description:
    'The same 10,000 window results (1,000 keys x 10 windows, count/sum/avg) are written in batches of 500, as a ' +
    'partition writes fired panes, then the same batches again: a replay after a crash, where every write meets the ' +
    'revision guard. KV on a nats-server of the benchmark\'s own (one request per row), PostgreSQL on ' +
    '127.0.0.1:5432, database `test` (one `unnest` upsert per batch; skipped, with its figures, when unreachable), JSON ' +
    'files in a temporary folder (one file per window, written then renamed). A replay into KV costs a read per row ' +
    'for the revision guard, where PostgreSQL checks it inside the one statement; files are bound by one fsync\'d ' +
    'rename per window, which is what makes every file atomic.',
  figures: [
    { name: 'sink.kv.rows_per_s', unit: 'rows/s', label: 'KV bucket, first write', target: { op: '>=', value: 50_000 } },
    { name: 'sink.kv.replay_rows_per_s', unit: 'rows/s', label: 'KV bucket, replay' },
    { name: 'sink.postgres.rows_per_s', unit: 'rows/s', label: 'PostgreSQL, first write' },
    { name: 'sink.postgres.replay_rows_per_s', unit: 'rows/s', label: 'PostgreSQL, replay' },
    { name: 'sink.files.rows_per_s', unit: 'rows/s', label: 'JSON files, first write' },
    { name: 'sink.files.replay_rows_per_s', unit: 'rows/s', label: 'JSON files, replay' },
    { name: 'sink.postgres_vs_kv_ratio', unit: 'ratio', label: 'PostgreSQL / KV, first write' },
    { name: 'sink.files_vs_kv_ratio', unit: 'ratio', label: 'files / KV, first write' },
  ],
  run: sinkThroughput,
};
