// The JSON-files sink: one pretty-printed JSON file per (job, key, window), for tools that poll a folder.
//
// Layout: <dir>/<job>/<start>_<end>[__<key>].json, where <start> and <end> are the window bounds in
// ISO-8601 basic format, UTC, to the millisecond (20240501T120000.000Z: no colons, so the name is valid
// on every filesystem, and fixed width, so `ls` lists files by window start, then end, then key).
// The key part is left out for the empty key. A key made only of [a-z0-9._-] (at most 80 characters)
// is used as it is; any other key is sanitized (runs of other characters become "_", cut to 80) and
// followed by "~" and 16 hex digits of its SHA-256. Uppercase letters also get the hash, since two keys
// differing only in case would be one file on a case-insensitive filesystem (macOS, SMB shares). Plain
// names never contain "~" and hashed ones always do, so distinct keys get distinct names.
//
// Readers never see a partial file: content goes to a hidden temporary file in the same folder
// (.<name>.<pid>.<random>.tmp), is fsynced, and renamed over the target; the folder is fsynced once
// per batch, before write() resolves. Readers skip names starting with a dot.
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ShardflowError } from '../../common/errors.ts';
import { JOB_NAME_PATTERN } from '../../common/names.ts';
import { ALL_WRITTEN, forEachLimited, withRetry, type ResultRow, type Sink, type SinkWrite, type SinkWriteOutcome } from './sink.ts';

/** Files written at once: enough to overlap fsyncs, well under a default limit of 1,024 descriptors. */
const CONCURRENCY = 32;
const ATTEMPTS = 5;
/** A temporary file older than this (ms) is a leftover of a killed writer; younger ones may be live. */
const STALE_TEMP_MS = 60_000;
const KEY_CHARS_MAX = 80;
const TEMP_FILE = /^\..+\.\d+\.[0-9a-f]+\.tmp$/;
/** Failures that retrying cannot fix: permissions, a full or read-only disk, a file where a folder should be. */
const PERMANENT = new Set(['EACCES', 'EPERM', 'ENOSPC', 'EDQUOT', 'EROFS', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'ELOOP']);

/** The file name of a (key, window) result, inside the job's folder. */
export function resultFileName(key: string, start: number, end: number): string {
  const window = `${basicIso(start)}_${basicIso(end)}`;
  return key === '' ? `${window}.json` : `${window}__${keyPart(key)}.json`;
}

export class FilesSink implements Sink {
  private constructor(
    private readonly job: string,
    private readonly folder: string,
  ) {}

  /** Creates <dir>/<job> if needed and removes temporary files that killed writers left behind. */
  static async open(dir: string, job: string): Promise<FilesSink> {
    const folder = jobFolder(dir, job);
    await withRetry(`files sink: creating ${folder}`, ATTEMPTS, () => mkdir(folder, { recursive: true }), isPermanent);
    await withRetry(`files sink: cleaning temporary files in ${folder}`, ATTEMPTS, () => removeStaleTempFiles(folder), isPermanent);
    return new FilesSink(job, folder);
  }

  async write(batch: readonly SinkWrite[]): Promise<SinkWriteOutcome> {
    if (batch.length === 0) return ALL_WRITTEN;
    const targets = [...latestPerFile(batch, this.job)];
    await forEachLimited(targets, CONCURRENCY, async ([name, w]) => {
      const path = join(this.folder, name);
      const content = w.op === 'upsert' ? render(w.row) : '';
      await withRetry(`files sink: ${w.op} ${path}`, ATTEMPTS, () => (w.op === 'upsert' ? this.replace(path, name, content, w.row.revision) : remove(path, w.revision)), isPermanent);
    });
    // One folder fsync makes every rename and unlink of the batch durable. Done even when every write
    // was skipped: a skipped file may have been renamed in by a writer killed before its own fsync.
    await withRetry(`files sink: syncing ${this.folder}`, ATTEMPTS, () => syncFolder(this.folder), isPermanent);
    return ALL_WRITTEN;
  }

  async close(): Promise<void> {}

  /**
   * Replaces `path` unless it holds a newer revision. Two processes can race between the revision
   * check and the rename (a paused zombie worker and the partition's new owner). For the same revision
   * both write the same bytes, so either rename is fine. For different revisions the older one can
   * only win if its check ran before the newer file appeared and its rename came after; checking again
   * right before the rename (after the slow fsync) leaves a window of one small read. A paused zombie
   * could still land there: the file would then hold a complete, earlier result of that window until
   * the owner writes the window again. Closing the window needs a compare-and-swap rename
   * (renameat2(RENAME_EXCHANGE) or flock), which Node lacks; a lock file would not help, since breaking
   * the stale lock of a killed writer lets a paused one through the same way.
   */
  private async replace(path: string, name: string, content: string, revision: number): Promise<void> {
    const stored = await readStored(path);
    if (stored && stored.revision > revision) return;
    // A replay: leave the file (and its mtime, which pollers may watch) alone.
    if (stored?.text === content) return;
    const tmp = join(this.folder, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    let renamed = false;
    try {
      await writeDurably(tmp, content).catch(async (err: unknown) => {
        if (code(err) !== 'ENOENT') throw err;
        // The folder was removed under us (an operator clearing results): make it again, once.
        await mkdir(this.folder, { recursive: true });
        await writeDurably(tmp, content);
      });
      const now = await readStored(path);
      if (now && now.revision > revision) return;
      await rename(tmp, path);
      renamed = true;
    } finally {
      if (!renamed) await unlink(tmp).catch(() => {});
    }
  }
}

/**
 * Every result in <dir>/<job>, window bounds as epoch ms like the KV reader, sorted by window start,
 * then key. Temporary files are skipped; a file that vanishes while listing (a retraction) is too.
 */
export async function readFileResults(dir: string, job: string): Promise<ResultRow[]> {
  const folder = jobFolder(dir, job);
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (err) {
    if (code(err) === 'ENOENT') return [];
    throw new ShardflowError('SINK_FAILED', `files sink: cannot list ${folder}: ${(err as Error).message}`, { cause: err });
  }
  const rows: ResultRow[] = [];
  await forEachLimited(
    names.filter((n) => !n.startsWith('.') && n.endsWith('.json')),
    CONCURRENCY,
    async (name) => {
      const path = join(folder, name);
      const text = await readFile(path, 'utf8').catch((err: unknown) => {
        if (code(err) === 'ENOENT') return null;
        throw new ShardflowError('SINK_FAILED', `files sink: cannot read ${path}: ${(err as Error).message}`, { cause: err });
      });
      if (text !== null) rows.push(parseRow(path, text));
    },
  );
  return rows.sort((a, b) => a.window_start - b.window_start || (a.key < b.key ? -1 : a.key > b.key ? 1 : a.window_end - b.window_end));
}

/** The file's text: the row with window bounds both as ISO strings (for people) and epoch ms (exact). */
function render(row: ResultRow): string {
  const { job, key, window_start, window_end, revision, ...aggregates } = row;
  for (const reserved of ['window_start_ms', 'window_end_ms']) {
    if (reserved in aggregates) {
      throw new ShardflowError('SINK_REFUSED', `files sink: job ${job} has an aggregate named "${reserved}", which the files sink uses for the window bounds; rename the aggregate`);
    }
  }
  const file = {
    job,
    key,
    window_start: new Date(window_start).toISOString(),
    window_end: new Date(window_end).toISOString(),
    window_start_ms: window_start,
    window_end_ms: window_end,
    revision,
    ...aggregates,
  };
  return JSON.stringify(file, null, 2) + '\n';
}

function parseRow(path: string, text: string): ResultRow {
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch (err) {
    throw new ShardflowError('SINK_REFUSED', `files sink: ${path} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const notARow = () => new ShardflowError('SINK_REFUSED', `files sink: ${path} is not a result row (job, key, revision, window_start_ms, window_end_ms)`);
  if (typeof file !== 'object' || file === null || Array.isArray(file)) throw notARow();
  const { job, key, revision, window_start_ms, window_end_ms, window_start: _iso, window_end: _isoEnd, ...aggregates } = file as Record<string, unknown>;
  if (typeof job !== 'string' || typeof key !== 'string' || typeof revision !== 'number' || typeof window_start_ms !== 'number' || typeof window_end_ms !== 'number') throw notARow();
  return { job, key, window_start: window_start_ms, window_end: window_end_ms, revision, ...aggregates };
}

/**
 * One write per file: the highest revision, the later one on a tie. That is what applying the batch in
 * order gives when revisions do not go down, and it also keeps an older upsert after a newer retraction
 * from bringing the file back, which in-order application against a missing file would not.
 */
function latestPerFile(batch: readonly SinkWrite[], job: string): Map<string, SinkWrite> {
  const latest = new Map<string, SinkWrite>();
  for (const w of batch) {
    const target = w.op === 'upsert' ? w.row : w;
    if (target.job !== job) {
      throw new ShardflowError('SINK_REFUSED', `files sink: a result of job ${target.job} was sent to the sink of job ${job} (a bug in the caller)`);
    }
    const name = resultFileName(target.key, target.window_start, target.window_end);
    const before = latest.get(name);
    if (!before || revisionOf(before) <= target.revision) latest.set(name, w);
  }
  return latest;
}

function revisionOf(w: SinkWrite): number {
  return w.op === 'upsert' ? w.row.revision : w.revision;
}

/** Deletes `path` unless it holds a newer revision; the same narrow race as an upsert (see replace). */
async function remove(path: string, revision: number): Promise<void> {
  const stored = await readStored(path);
  if (!stored || stored.revision > revision) return;
  await unlink(path).catch((err: unknown) => {
    if (code(err) !== 'ENOENT') throw err;
  });
}

/**
 * The stored file and its revision, or null when there is none. A file that is not a result row
 * (edited by hand, or a stray file of that name) counts as revision -Infinity, so a write repairs it.
 */
async function readStored(path: string): Promise<{ text: string; revision: number } | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (code(err) === 'ENOENT') return null;
    throw err;
  }
  try {
    const revision = (JSON.parse(text) as { revision?: unknown }).revision;
    return { text, revision: typeof revision === 'number' ? revision : -Infinity };
  } catch {
    return { text, revision: -Infinity };
  }
}

async function writeDurably(path: string, content: string): Promise<void> {
  // 'wx': a random name that already exists means something is badly wrong; never write into it.
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncFolder(folder: string): Promise<void> {
  // Windows cannot open a folder for fsync; NTFS journals renames itself.
  if (process.platform === 'win32') return;
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function removeStaleTempFiles(folder: string): Promise<void> {
  const cutoff = Date.now() - STALE_TEMP_MS;
  for (const name of await readdir(folder)) {
    if (!TEMP_FILE.test(name)) continue;
    const path = join(folder, name);
    const stat = await lstat(path).catch(() => null);
    if (stat?.isFile() && stat.mtimeMs < cutoff) {
      await unlink(path).catch((err: unknown) => {
        if (code(err) !== 'ENOENT') throw err;
      });
    }
  }
}

function jobFolder(dir: string, job: string): string {
  if (!JOB_NAME_PATTERN.test(job)) {
    throw new ShardflowError('SINK_REFUSED', `files sink: "${job}" is not a job name (lowercase letters, digits, dashes)`);
  }
  return join(resolve(dir), job);
}

/** 2024-05-01T12:00:00.000Z as 20240501T120000.000Z. */
function basicIso(ms: number): string {
  const iso = Number.isInteger(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : '';
  // Four-digit years keep names fixed width, so they sort by time (years past 9999 get a sign and six).
  if (!/^\d{4}-/.test(iso)) {
    throw new ShardflowError('SINK_REFUSED', `files sink: window bound ${ms} is not an epoch-ms time between years 0000 and 9999`);
  }
  return iso.replace(/[-:]/g, '');
}

function keyPart(key: string): string {
  const sanitized = key.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, KEY_CHARS_MAX);
  if (sanitized === key && !/[A-Z]/.test(key)) return key;
  return `${sanitized}~${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 16)}`;
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function isPermanent(err: unknown): boolean {
  return err instanceof ShardflowError || PERMANENT.has(code(err) ?? '');
}
