// Integration: compaction of station-sentiment's input stream on a real nats-server into Parquet files,
// read back with hyparquet and compared with an oracle computed here from the raw stored events.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobProducer } from '../cluster/producer.ts';
import { ensureJobTopology } from '../nats/topology.ts';
import { unpack } from 'msgpackr';
import { HEADERS, inputStream, LAKE_MANIFEST_FILE, partitionId, partitionSubject } from '../common/names.ts';
import { seededRandom } from '../common/random.ts';
import { defineJob, type Job } from '../jobs/define-job.ts';
import { generateFeedback, stationSentiment as job } from '../jobs/examples/station-sentiment.ts';
import { readStream, ROOT, startTestNats, type TestNats } from '../test/cluster-harness.ts';
import { compactJob } from './compaction.ts';
import { lakeFileName, parseLakeFileName } from './lake-layout.ts';

let nats: TestNats;
const scratch = mkdtempSync(join(tmpdir(), 'shardflow-lake-'));
const began = Date.now();

beforeAll(async () => {
  nats = await startTestNats();
  await ensureJobTopology(nats.nc, await jetstreamManager(nats.nc), job.name, { replicas: 1 });
});
afterAll(async () => {
  await nats?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Publishes `count` generated events (about 2% dirty) and one watermark control message. */
async function publish(count: number, seed: number): Promise<void> {
  const random = seededRandom(seed);
  const start = Date.now() - count * 50;
  const producer = new JobProducer(nats.nc, job, { producerId: `compaction-test-${seed}` });
  for (let i = 0; i < count; i++) await producer.publish(generateFeedback(random, i, start));
  await producer.flush();
  const h = natsHeaders();
  h.set(HEADERS.watermark, String(Date.now()));
  await jetstream(nats.nc).publish(partitionSubject(partitionId(job.name, seed % job.partitions), 'marker'), new Uint8Array(), { headers: h });
}

interface ExpectedRow {
  station_id: string;
  service: string;
  rating: number;
  comment: string;
  ts: string | number;
  _seq: bigint;
  _index: number;
  _partition: number;
  _event_time: Date;
}

/** Independent of the decoder: every stored event, parsed, validated by the schema and range-checked. */
async function oracle(): Promise<{ rows: ExpectedRow[]; invalid: number; control: number; rawBytes: number }> {
  const rows: ExpectedRow[] = [];
  let invalid = 0;
  let control = 0;
  let rawBytes = 0;
  for (const m of await readStream(nats.nc, inputStream(job.name))) {
    const [, , , partition, kind] = m.subject.split('.');
    if (kind === 'marker') {
      control++;
      continue;
    }
    rawBytes += m.data.byteLength;
    // A producer's batch (subject .batch) is a MessagePack array of the events' bytes.
    const events = kind === 'batch' ? (unpack(m.data) as Uint8Array[]) : [m.data];
    events.forEach((data, index) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(new TextDecoder().decode(data));
      } catch {
        invalid++;
        return;
      }
      const checked = job.schema.safeParse(parsed);
      const time = checked.success ? new Date(checked.data.ts).getTime() : NaN;
      if (!checked.success || !(time >= job.limits.minEventTime && time <= Date.now() + job.limits.maxFutureSkew)) {
        invalid++;
        return;
      }
      rows.push({ ...checked.data, _seq: BigInt(m.seq), _index: index, _partition: Number(partition), _event_time: new Date(time) });
    });
  }
  return { rows, invalid, control, rawBytes };
}

/** Every row of every Parquet file of the folder, with the file it came from. */
async function readLake(folder: string): Promise<Map<string, Record<string, unknown>[]>> {
  const files = new Map<string, Record<string, unknown>[]>();
  for (const name of readdirSync(folder).filter((n) => n.endsWith('.parquet')).sort()) {
    files.set(name, await parquetReadObjects({ file: await asyncBufferFromFile(join(folder, name)) }));
  }
  return files;
}

function allRows(files: Map<string, Record<string, unknown>[]>): Record<string, unknown>[] {
  return [...files.values()].flat();
}

function expectSameRows(actual: Record<string, unknown>[], expected: ExpectedRow[]): void {
  const positions = actual.map((r) => `${r._seq as bigint}.${r._index as number}`);
  expect(new Set(positions).size).toBe(positions.length);
  const byPosition = new Map(actual.map((r) => [`${r._seq as bigint}.${r._index as number}`, r]));
  expect(actual.length).toBe(expected.length);
  for (const e of expected) {
    const row = byPosition.get(`${e._seq}.${e._index}`);
    expect(row, `row of sequence ${e._seq}`).toBeDefined();
    const { _ingest_time, ...rest } = row!;
    expect(rest).toEqual(e);
    expect((_ingest_time as Date).getTime()).toBeGreaterThanOrEqual(began - 1_000);
    expect((_ingest_time as Date).getTime()).toBeLessThanOrEqual(Date.now());
  }
}

/** Every row's sequence lies in the range its file is named by, and the files' ranges do not overlap. */
function expectRowsInTheirRanges(files: Map<string, Record<string, unknown>[]>): void {
  let previousLast = 0;
  for (const [name, rows] of files) {
    const range = parseLakeFileName(name)!;
    expect(range.first).toBeGreaterThan(previousLast);
    previousLast = range.last;
    for (const r of rows) {
      expect(Number(r._seq)).toBeGreaterThanOrEqual(range.first);
      expect(Number(r._seq)).toBeLessThanOrEqual(range.last);
    }
  }
}

/** A definition equivalent to a defined job, to define a copy of it under another name. */
function definitionOf<E>(j: Job<E>) {
  return { name: j.name, schema: j.schema, key: j.keyOf, eventTime: j.timeOf, window: j.window, aggregates: j.aggregates };
}

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'shardflow.mjs'), ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', SHARDFLOW_LOG_LEVEL: 'warn', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('compaction of a job into Parquet', () => {
  const lake = join(scratch, 'lake');
  const folder = join(lake, job.name);

  it('writes every valid event once, with the values the schema gives it, and skips invalid and control messages', async () => {
    await publish(3_000, 7);
    const report = await compactJob(nats.nc, job, { root: lake, rowsPerFile: 1_000 });
    const expected = await oracle();
    const messages = (await readStream(nats.nc, inputStream(job.name))).length;
    expect(expected.invalid).toBeGreaterThan(20);
    expect(expected.rows.length + expected.invalid).toBe(3_000);
    expect(report.rawBytes).toBe(expected.rawBytes);
    expect(report).toMatchObject({ from: 1, to: messages, scanned: messages, rows: expected.rows.length, invalid: expected.invalid, controlMessages: 1, missing: 0 });
    const files = await readLake(folder);
    expect([...files.keys()]).toEqual(report.files.map((f) => f.name));
    // Files are cut between messages (a producer's batch is never split), at the first message that
    // brings a file to 1,000 rows or more.
    expect(report.files.length).toBe(3);
    for (const f of report.files.slice(0, -1)) expect(f.rows).toBeGreaterThanOrEqual(1_000);
    expect(report.files.reduce((n, f) => n + f.rows, 0)).toBe(expected.rows.length);
    expectSameRows(allRows(files), expected.rows);
    expectRowsInTheirRanges(files);
    // The files tile the stream: each starts right after the previous one, the last ends at the run's end.
    expect(report.files[0]!.first).toBe(1);
    expect(report.files.at(-1)!.last).toBe(messages);
    for (let i = 1; i < report.files.length; i++) expect(report.files[i]!.first).toBe(report.files[i - 1]!.last + 1);
    console.info(`compaction of ${report.scanned} events: ${report.parquetBytes} bytes of Parquet for ${report.rawBytes} bytes of raw JSON (${((report.parquetBytes / report.rawBytes) * 100).toFixed(1)}%)`);
  });

  it('writes nothing when run again with no new event', async () => {
    const before = readdirSync(folder).sort();
    const report = await compactJob(nats.nc, job, { root: lake, rowsPerFile: 1_000 });
    expect(report.files).toEqual([]);
    expect(report.scanned).toBe(0);
    expect(readdirSync(folder).sort()).toEqual(before);
  });

  it('adds only the new events, in new files, after more are published', async () => {
    const before = new Map(readdirSync(folder).filter((n) => n.endsWith('.parquet')).map((n) => [n, statSync(join(folder, n)).mtimeMs]));
    const done = (await readStream(nats.nc, inputStream(job.name))).length;
    await publish(1_500, 8);
    const report = await compactJob(nats.nc, job, { root: lake, rowsPerFile: 1_000 });
    expect(report.from).toBe(done + 1);
    expect(report.files.every((f) => !before.has(f.name) && f.first >= done + 1)).toBe(true);
    for (const [name, mtime] of before) expect(statSync(join(folder, name)).mtimeMs).toBe(mtime);
    const files = await readLake(folder);
    expectSameRows(allRows(files), (await oracle()).rows);
    expectRowsInTheirRanges(files);
  });

  it('neither duplicates nor loses events after a run killed between a file and its manifest', async () => {
    const manifestPath = join(folder, LAKE_MANIFEST_FILE);
    const manifestBefore = readFileSync(manifestPath, 'utf8');
    await publish(500, 9);
    const run = await compactJob(nats.nc, job, { root: lake, rowsPerFile: 100_000 });
    expect(run.files.length).toBe(1);
    // What a kill leaves: the run's renamed file, the previous run's manifest, and a half-written temp file.
    writeFileSync(manifestPath, manifestBefore);
    writeFileSync(join(folder, `.${lakeFileName({ first: run.to + 1, last: run.to + 9 })}.999999.tmp`), 'half a file');

    const again = await compactJob(nats.nc, job, { root: lake, rowsPerFile: 100_000 });
    expect(again.files).toEqual([]);
    expect(readdirSync(folder).some((n) => n.endsWith('.tmp'))).toBe(false);
    await publish(200, 10);
    const after = await compactJob(nats.nc, job, { root: lake, rowsPerFile: 100_000 });
    expect(after.from).toBe(run.to + 1);
    const files = await readLake(folder);
    expectSameRows(allRows(files), (await oracle()).rows);
    expectRowsInTheirRanges(files);
  });

  it('splits a run into files of at most --rows-per-file rows', async () => {
    const report = await compactJob(nats.nc, job, { root: join(scratch, 'small-files'), rowsPerFile: 700 });
    const expected = await oracle();
    // A file closes at the first message that brings it to 700 rows: never more than 700 plus one
    // producer batch (100 events).
    expect(report.files.length).toBeGreaterThanOrEqual(Math.floor(expected.rows.length / 800));
    expect(report.files.length).toBeLessThanOrEqual(Math.ceil(expected.rows.length / 700));
    expect(report.files.every((f) => f.rows < 700 + 100)).toBe(true);
    const files = await readLake(join(scratch, 'small-files', job.name));
    expect([...files.values()].map((rows) => rows.length)).toEqual(report.files.map((f) => f.rows));
    expectSameRows(allRows(files), expected.rows);
  });

  it('says to publish first when the job has no input stream on the server', async () => {
    const other = defineJob({ ...definitionOf(job), name: 'never-produced' });
    await expect(compactJob(nats.nc, other, { root: lake, rowsPerFile: 10 })).rejects.toMatchObject({
      code: 'STREAM_MISSING',
      message: expect.stringMatching(/shardflow produce --job never-produced/),
    });
  });

  it('runs as `shardflow compact`: exit 0 and a summary, then exit 2 with advice on bad usage', async () => {
    const dataDir = join(scratch, 'data');
    const env = { SHARDFLOW_NATS_URL: nats.url, SHARDFLOW_DATA_DIR: dataDir };
    const expected = await oracle();
    const run = await runCli(['compact', '--job', job.name, '--rows-per-file', '2000'], env);
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`files written\\s+${Math.ceil(expected.rows.length / 2_000)} in `));
    expect(run.stdout).toMatch(new RegExp(`rows\\s+${expected.rows.length}\\n`));
    expect(run.stdout).toMatch(new RegExp(`invalid skipped ${expected.invalid} \\(`));
    expect(run.stdout).toMatch(/bytes\s+[\d.]+ KiB of Parquet \(\d+% of [\d.]+ KiB of raw JSON\)/);
    expect(run.stdout).toMatch(/field "ts" \(string \| number\) is not a scalar/);
    expectSameRows(allRows(await readLake(join(dataDir, 'lake', job.name))), expected.rows);

    const again = await runCli(['compact', '--job', job.name], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/nothing new since sequence \d+; no file written/);

    const [unknownJob, badFlag, help] = await Promise.all([
      runCli(['compact', '--job', 'nope'], env),
      runCli(['compact', '--job', job.name, '--rows-per-file', '0'], env),
      runCli(['compact', '--help'], env),
    ]);
    expect(unknownJob.code).toBe(2);
    expect(unknownJob.stderr).toMatch(/no job named "nope"; available: station-sentiment/);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/--rows-per-file must be at least 1/);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: shardflow compact --job NAME/);
  }, 240_000);
});
