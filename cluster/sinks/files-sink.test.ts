// The JSON-files sink against the real filesystem, in a fresh temporary folder per test. The polling
// reader is a separate node process, as the tools that watch the folder are.
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isShardflowError } from '../../common/errors.ts';
import { FilesSink, readFileResults, resultFileName } from './files-sink.ts';
import type { ResultRow, SinkWrite } from './sink.ts';

const JOB = 'tickets';
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);
const isRoot = process.getuid?.() === 0;

let dir: string;
let folder: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shardflow-files-sink-'));
  folder = join(dir, JOB);
});
afterEach(async () => {
  await chmod(folder, 0o700).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

function row(key: string, window: number, revision: number, extra: Record<string, unknown> = {}): ResultRow {
  const start = T0 + window * 30_000;
  return { job: JOB, key, window_start: start, window_end: start + 30_000, revision, tickets: revision * 10 + 1, ...extra };
}
const upsert = (r: ResultRow): SinkWrite => ({ op: 'upsert', row: r });
const retract = (key: string, window: number, revision: number): SinkWrite => {
  const start = T0 + window * 30_000;
  return { op: 'delete', job: JOB, key, window_start: start, window_end: start + 30_000, revision };
};

/** Every entry of the job folder (hidden ones too) with its bytes and mtime. */
async function snapshot(): Promise<Map<string, { text: string; mtimeMs: number }>> {
  const files = new Map<string, { text: string; mtimeMs: number }>();
  for (const name of (await readdir(folder)).sort()) {
    const path = join(folder, name);
    files.set(name, { text: await readFile(path, 'utf8'), mtimeMs: (await stat(path)).mtimeMs });
  }
  return files;
}

async function sinkFailure(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  // Permanent: retrying cannot help, so the partition fails instead of waiting for the folder.
  expect(isShardflowError(err, 'SINK_REFUSED'), `expected SINK_REFUSED, got ${String(err)}`).toBe(true);
  expect((err as { retryable: boolean }).retryable).toBe(false);
  return err as Error;
}

describe('file names', () => {
  it('sort by window start, then end, then key, and skip the key part for the empty key', () => {
    const names = [
      resultFileName('b', T0 + 30_000, T0 + 60_000),
      resultFileName('a', T0, T0 + 60_000),
      resultFileName('', T0, T0 + 30_000),
      resultFileName('a', T0, T0 + 30_000),
      resultFileName('a', Date.UTC(1999, 11, 31, 23, 59, 59, 999), T0),
    ];
    expect([...names].sort()).toEqual([names[4], names[2], names[3], names[1], names[0]]);
    expect(resultFileName('', T0, T0 + 30_000)).toBe('20240501T120000.000Z_20240501T120030.000Z.json');
    expect(resultFileName('billing', T0, T0 + 30_000)).toBe('20240501T120000.000Z_20240501T120030.000Z__billing.json');
  });

  it('map keys with slashes, spaces, unicode, case and great length to distinct valid names', () => {
    const keys = ['a/b', 'a_b', 'a b', 'a\\b', '../etc/passwd', '.', '..', 'Billing', 'billing', 'BILLING', 'café', 'cafe\u0301', '日本語', '🎫', 'x'.repeat(5_000), 'x'.repeat(5_001), 'a~b', 'a\0b', ' ', '', '_'];
    const names = keys.map((k) => resultFileName(k, T0, T0 + 30_000));
    // Distinct even on a case-insensitive filesystem.
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(keys.length);
    for (const name of names) {
      expect(name).toMatch(/^[0-9TZ.]+_[0-9TZ.]+(__[A-Za-z0-9._~-]+)?\.json$/);
      // Room left for the temporary file's ".<name>.<pid>.<random>.tmp" under the 255-byte limit.
      expect(Buffer.byteLength(name)).toBeLessThan(200);
    }
    expect(resultFileName('Billing', T0, T0 + 30_000)).toMatch(/__Billing~[0-9a-f]{16}\.json$/);
    expect(resultFileName('a/b', T0, T0 + 30_000)).toMatch(/__a_b~[0-9a-f]{16}\.json$/);
  });

  it('reject window bounds that would not give fixed-width times', () => {
    expect(() => resultFileName('k', 1.5, 2)).toThrow(/not an epoch-ms time/);
    expect(() => resultFileName('k', T0, Date.UTC(10_000, 0, 1))).toThrow(/not an epoch-ms time/);
  });
});

describe('the files sink', () => {
  it('writes one pretty-printed file per window that reads back as the same rows', async () => {
    const sink = await FilesSink.open(dir, JOB);
    const rows = [row('billing', 1, 0), row('billing', 0, 2, { top: ['login', 'refund'] }), row('', 0, 0), row('Login issues/EU', 0, 1)];
    await sink.write(rows.map(upsert));
    const sorted = [rows[2], rows[3], rows[1], rows[0]]; // keys compare by code point, as the KV reader does
    expect(await readFileResults(dir, JOB)).toEqual(sorted);
    const text = await readFile(join(folder, resultFileName('billing', rows[1]!.window_start, rows[1]!.window_end)), 'utf8');
    expect(text).toBe(JSON.stringify({ job: JOB, key: 'billing', window_start: '2024-05-01T12:00:00.000Z', window_end: '2024-05-01T12:00:30.000Z', window_start_ms: T0, window_end_ms: T0 + 30_000, revision: 2, tickets: 21, top: ['login', 'refund'] }, null, 2) + '\n');
    // `ls` order is window order.
    expect((await readdir(folder)).sort()).toEqual(sorted.map((r) => resultFileName(r!.key, r!.window_start, r!.window_end)));
    await sink.close();
  });

  it('never lets an older revision overwrite a newer file, and lets an equal or newer one replace it', async () => {
    const sink = await FilesSink.open(dir, JOB);
    await sink.write([upsert(row('k', 0, 2))]);
    const before = await snapshot();
    await sink.write([upsert(row('k', 0, 1))]);
    await sink.write([upsert(row('k', 0, 0))]);
    expect(await snapshot()).toEqual(before);
    await sink.write([upsert(row('k', 0, 2, { tickets: 99 }))]);
    expect((await readFileResults(dir, JOB))[0]).toMatchObject({ revision: 2, tickets: 99 });
    await sink.write([upsert(row('k', 0, 3))]);
    expect(await readFileResults(dir, JOB)).toEqual([row('k', 0, 3)]);
  });

  it('leaves byte-identical files, untouched mtimes and no extra files when a batch is replayed', async () => {
    const batch = [...Array.from({ length: 50 }, (_, i) => upsert(row(`key-${i % 5}`, i, i % 3))), retract('key-0', 0, 0)];
    const first = await FilesSink.open(dir, JOB);
    await first.write(batch);
    const before = await snapshot();
    expect(before.size).toBe(49);
    await new Promise((r) => setTimeout(r, 20)); // so a rewrite would show in mtime
    const second = await FilesSink.open(dir, JOB); // a restarted worker replays the batch
    await second.write(batch);
    await second.write(batch);
    expect(await snapshot()).toEqual(before);
  });

  it('removes a file on a retraction of an equal or newer revision only', async () => {
    const sink = await FilesSink.open(dir, JOB);
    await sink.write([upsert(row('k', 0, 3)), upsert(row('other', 0, 0))]);
    await sink.write([retract('k', 0, 2)]);
    expect((await readFileResults(dir, JOB)).map((r) => [r.key, r.revision])).toEqual([['k', 3], ['other', 0]]);
    await sink.write([retract('k', 0, 3)]);
    expect((await readFileResults(dir, JOB)).map((r) => r.key)).toEqual(['other']);
    await sink.write([retract('k', 0, 4), retract('never-written', 5, 0)]); // nothing there: a no-op
    expect(await readdir(folder)).toEqual([resultFileName('other', T0, T0 + 30_000)]);
  });

  it('applies several writes to one window in a batch as the last of them, without reviving a retraction', async () => {
    const sink = await FilesSink.open(dir, JOB);
    await sink.write([upsert(row('k', 0, 0)), upsert(row('k', 0, 1)), upsert(row('j', 0, 0)), upsert(row('k', 0, 2))]);
    expect((await readFileResults(dir, JOB)).map((r) => [r.key, r.revision])).toEqual([['j', 0], ['k', 2]]);
    await sink.write([upsert(row('k', 0, 3)), retract('k', 0, 4)]);
    expect((await readFileResults(dir, JOB)).map((r) => r.key)).toEqual(['j']);
    await sink.write([retract('j', 0, 1), upsert(row('j', 0, 0))]); // a stale upsert after the retraction
    expect(await readFileResults(dir, JOB)).toEqual([]);
  });

  it('keeps results of keys with slashes, spaces, unicode, case and great length apart on disk', async () => {
    const keys = ['a/b', 'a_b', 'a b', '../up', 'Billing', 'billing', 'café', 'cafe\u0301', '日本語', '🎫', 'x'.repeat(5_000), 'x'.repeat(5_001), ''];
    const sink = await FilesSink.open(dir, JOB);
    await sink.write(keys.map((k, i) => upsert(row(k, 0, i))));
    expect(await readdir(dir)).toEqual([JOB]); // nothing escaped the job folder
    expect(await readdir(folder)).toHaveLength(keys.length);
    const read = await readFileResults(dir, JOB);
    expect(new Map(read.map((r) => [r.key, r.revision]))).toEqual(new Map(keys.map((k, i) => [k, i])));
  });

  it('never shows a polling reader a partial or empty file while 2,000 windows are rewritten', async () => {
    const windows = 2_000;
    const pad = 'x'.repeat(6_000); // several pages, so a torn write would show
    const batchOf = (revision: number) => Array.from({ length: windows }, (_, i) => upsert(row(`queue-${i % 7}`, i, revision, { pad })));
    const sink = await FilesSink.open(dir, JOB);
    await sink.write(batchOf(0));
    const stopFile = join(dir, 'stop');
    const reader = spawn(process.execPath, ['-e', POLLER, folder, stopFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => reader.on('exit', r));
    await new Promise<void>((r) => reader.stdout.once('data', () => r())); // its first full pass is done
    const rewrites = 5;
    for (let revision = 1; revision <= rewrites; revision++) {
      const batch = batchOf(revision);
      for (let i = 0; i < batch.length; i += 500) await sink.write(batch.slice(i, i + 500));
    }
    await writeFile(stopFile, '');
    expect(await exited).toBe(0);
    const report = JSON.parse(out.slice(out.indexOf('{'))) as { passes: number; reads: number; bad: number; examples: string[]; revisions: number[] };
    expect(report.examples).toEqual([]);
    expect(report.bad).toBe(0);
    expect(report.reads).toBeGreaterThan(windows);
    // It read while the rewrites ran, not only before or after them.
    expect(report.revisions.filter((r) => r > 0 && r < rewrites).length).toBeGreaterThan(0);
    const rows = await readFileResults(dir, JOB);
    expect(rows).toHaveLength(windows);
    expect(rows.every((r) => r.revision === rewrites)).toBe(true);
    expect((await readdir(folder)).filter((n) => n.startsWith('.'))).toEqual([]);
  }, 180_000);

  it.skipIf(isRoot)('refuses a write into a read-only folder (SINK_REFUSED) with the path, without retrying (skipped when running as root, which ignores permissions)', async () => {
    const sink = await FilesSink.open(dir, JOB);
    await chmod(folder, 0o500);
    const err = await sinkFailure(sink.write([upsert(row('k', 0, 0))]));
    expect(err.message).toContain(join(folder, resultFileName('k', T0, T0 + 30_000)));
    expect(err.message).toMatch(/after 1 attempt/);
  });

  it('refuses (SINK_REFUSED) with the path, without retrying, when the folder is under a file', async () => {
    await writeFile(join(dir, 'plain-file'), '');
    const err = await sinkFailure(FilesSink.open(join(dir, 'plain-file'), JOB));
    expect(err.message).toContain(join(dir, 'plain-file', JOB));
    expect(err.message).toMatch(/after 1 attempt/);
    // And when the job folder turns into a file after the sink opened.
    const sink = await FilesSink.open(dir, JOB);
    await rm(folder, { recursive: true });
    await writeFile(folder, '');
    const late = await sinkFailure(sink.write([upsert(row('k', 0, 0))]));
    expect(late.message).toContain(join(folder, resultFileName('k', T0, T0 + 30_000)));
    expect(late.message).toMatch(/after 1 attempt/);
    await rm(folder);
  });

  it('removes temporary files older than a minute when it opens, keeps younger ones, and readers skip both', async () => {
    await mkdir(folder, { recursive: true });
    const name = resultFileName('k', T0, T0 + 30_000);
    const stale = `.${name}.4242.0badc0de.tmp`;
    const live = `.${name}.4343.c0ffee00.tmp`;
    await writeFile(join(folder, stale), '{"job":"tick');
    await writeFile(join(folder, live), '{"job":"tick');
    await writeFile(join(folder, '.notes'), 'not ours');
    const twoMinutesAgo = new Date(Date.now() - 120_000);
    await utimes(join(folder, stale), twoMinutesAgo, twoMinutesAgo);
    await utimes(join(folder, '.notes'), twoMinutesAgo, twoMinutesAgo);
    await FilesSink.open(dir, JOB);
    expect((await readdir(folder)).sort()).toEqual(['.notes', live].sort());
    expect(await readFileResults(dir, JOB)).toEqual([]);
  });

  it('replaces a stored file that is not a result row, and the reader names such a file', async () => {
    const sink = await FilesSink.open(dir, JOB);
    const path = join(folder, resultFileName('k', T0, T0 + 30_000));
    await writeFile(path, 'edited by hand');
    const err = await sinkFailure(readFileResults(dir, JOB));
    expect(err.message).toContain(path);
    await sink.write([upsert(row('k', 0, 0))]);
    expect(await readFileResults(dir, JOB)).toEqual([row('k', 0, 0)]);
  });

  it('refuses an aggregate named like the epoch-ms window fields, saying to rename it', async () => {
    const sink = await FilesSink.open(dir, JOB);
    const err = await sinkFailure(sink.write([upsert(row('k', 0, 0, { window_start_ms: 1 }))]));
    expect(err.message).toMatch(/rename the aggregate/);
  });

  it('reads no rows for a job that never wrote', async () => {
    expect(await readFileResults(dir, 'no-such-job')).toEqual([]);
  });
});

/** A reader like the tools that poll the folder: list, read and parse every result file, in a tight loop. */
const POLLER = `
const fs = require('node:fs');
const [folder, stop] = process.argv.slice(1);
let passes = 0, reads = 0, bad = 0;
const examples = [], revisions = new Set();
for (;;) {
  for (const name of fs.readdirSync(folder)) {
    if (name.startsWith('.') || !name.endsWith('.json')) continue;
    let text;
    try { text = fs.readFileSync(folder + '/' + name, 'utf8'); } catch (e) { if (e.code === 'ENOENT') continue; throw e; }
    reads++;
    try {
      const row = JSON.parse(text);
      if (row.tickets !== row.revision * 10 + 1 || row.pad.length !== 6000) throw new Error('inconsistent row');
      revisions.add(row.revision);
    } catch (e) {
      bad++;
      if (examples.length < 3) examples.push(name + ' (' + text.length + ' bytes): ' + e.message);
    }
  }
  if (++passes === 1) process.stdout.write('ready\\n');
  if (fs.existsSync(stop)) break;
}
process.stdout.write(JSON.stringify({ passes, reads, bad, examples, revisions: [...revisions] }) + '\\n');
`;
