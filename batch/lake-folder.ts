// A job's folder in the lake on the local file system: the one compaction allowed in it at a time (a
// lock file naming its process), atomic writes (a hidden temporary file, fsync, rename, fsync of the
// folder) so a reader or a crash never sees half a file, and the manifest.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ShardflowError } from '../common/errors.ts';
import { LAKE_LOCK_FILE, LAKE_MANIFEST_FILE, lakeJobFolder } from '../common/names.ts';
import { isTempFileName, lakeFileName, manifestSchema, parseLakeFileName, tempFileName, type LakeManifest, type SeqRange } from './lake-layout.ts';

export class LakeFolder {
  private constructor(readonly path: string) {}

  /** Creates the folder if needed, takes its lock and removes what a killed run left half-written. */
  static open(root: string, job: string): LakeFolder {
    const path = join(root, lakeJobFolder(job));
    mkdirSync(path, { recursive: true });
    takeLock(join(path, LAKE_LOCK_FILE));
    const folder = new LakeFolder(path);
    for (const name of readdirSync(path)) if (isTempFileName(name)) rmSync(join(path, name), { force: true });
    return folder;
  }

  release(): void {
    rmSync(join(this.path, LAKE_LOCK_FILE), { force: true });
  }

  /** Names of the Parquet files of the job, in sequence order. */
  fileNames(): string[] {
    return readdirSync(this.path)
      .filter((n) => parseLakeFileName(n) !== undefined)
      .sort();
  }

  readManifest(): LakeManifest | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.path, LAKE_MANIFEST_FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const parsed = manifestSchema.safeParse(safeJson(text));
    if (!parsed.success) {
      throw new ShardflowError('LAKE_CORRUPT', `${join(this.path, LAKE_MANIFEST_FILE)} is not a shardflow lake manifest; move it away (the file names alone say how far compaction went) and run compact again`);
    }
    return parsed.data;
  }

  /** Writes a Parquet file of the range atomically; returns its name. */
  writeParquet(range: SeqRange, bytes: Uint8Array): string {
    const name = lakeFileName(range);
    this.writeAtomically(name, bytes);
    return name;
  }

  writeManifest(manifest: LakeManifest): void {
    this.writeAtomically(LAKE_MANIFEST_FILE, Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
  }

  private writeAtomically(name: string, bytes: Uint8Array): void {
    const temp = join(this.path, tempFileName(name, process.pid));
    const fd = openSync(temp, 'w');
    try {
      let written = 0;
      while (written < bytes.byteLength) written += writeSync(fd, bytes, written, bytes.byteLength - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, join(this.path, name));
    syncFolder(this.path);
  }
}

/** The rename is durable only once the folder itself is synced. */
function syncFolder(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems do not sync folders; the rename is then as durable as they make it.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function takeLock(path: string): void {
  const me = `${hostname()} ${process.pid}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, me + '\n');
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readFileSync(path, 'utf8').trim();
    const [host, pid] = holder.split(' ');
    if (host === hostname() && !processAlive(Number(pid))) {
      // A killed compaction left its lock: nothing of it runs any more.
      rmSync(path, { force: true });
      continue;
    }
    throw new ShardflowError(
      'COMPACTION_BUSY',
      `another compaction (${holder}) holds ${path}; wait for it to finish, or delete the lock file if that process is gone`,
    );
  }
  throw new ShardflowError('COMPACTION_BUSY', `could not take the lock ${path}: another compaction took it at the same moment`);
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
