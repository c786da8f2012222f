// The logs of the local cluster's processes have a ceiling: written through openProcessLog (the stream
// each coordinator's and worker's output is piped into), they rotate at 10 MiB and keep 5 gzipped
// files, however much a process writes. No cluster is started: a process's output is stood in for by
// a readable stream piped the same way.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { LOG_FILE_MIB, LOG_FILES_KEPT, openProcessLog } from './local-cluster.ts';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'shardflow-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `total` bytes of numbered JSON lines, in chunks the size a pipe delivers. */
function processOutput(total: number): Readable {
  let line = 0;
  let written = 0;
  return new Readable({
    read() {
      if (written >= total) return this.push(null);
      let chunk = '';
      // Varied enough that gzip does not shrink it to nothing, as real logs are.
      while (chunk.length < 64 * 1024) chunk += `{"level":30,"time":${1_700_000_000_000 + line},"pid":4242,"role":"worker","line":${line++},"msg":"partition ${line % 16} checkpointed at ${(line * 2_654_435_761) % 1_000_003}"}\n`;
      written += chunk.length;
      this.push(chunk);
    },
  });
}

async function writeThroughLog(file: string, bytes: number): Promise<void> {
  const out = openProcessLog(file, (err) => {
    throw err;
  });
  // As a process's stdout is piped: the log outlives one process, so the pipe does not end it.
  const source = processOutput(bytes);
  source.pipe(out, { end: false });
  await finished(source);
  out.end();
  await finished(out);
}

describe('process logs of the local cluster', () => {
  it(`rotate at ${LOG_FILE_MIB} MiB and keep ${LOG_FILES_KEPT} gzipped files, so one process's logs stay under ~60 MiB`, async () => {
    const file = join(dir, 'w1.log');
    await writeThroughLog(file, 9 * LOG_FILE_MIB * MiB);

    const names = readdirSync(dir).filter((n) => n.startsWith('w1.log')).sort();
    expect(names).toEqual(['w1.log', ...Array.from({ length: LOG_FILES_KEPT }, (_, i) => `w1.log.${i + 1}.gz`)].sort());
    // A rotation happens after the write that crosses the size: at most one pipe chunk over it.
    const ceiling = LOG_FILE_MIB * MiB + 64 * 1024 + 1024;
    const sizes = names.map((n) => statSync(join(dir, n)).size);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(ceiling);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual((LOG_FILES_KEPT + 1) * ceiling);

    // The rotated files are whole logs, newest first: .1.gz ends where the current file begins.
    const newest = gunzipSync(readFileSync(join(dir, 'w1.log.1.gz'))).toString();
    const current = readFileSync(file, 'utf8');
    const lastRotated = Number(/"line":(\d+)/.exec(newest.trimEnd().split('\n').at(-1)!)![1]);
    const firstCurrent = Number(/"line":(\d+)/.exec(current.split('\n')[0]!)![1]);
    expect(firstCurrent).toBe(lastRotated + 1);
    expect(newest.length).toBeGreaterThanOrEqual(LOG_FILE_MIB * MiB);
  }, 60_000);

  it('appends to the current file across restarts instead of starting it over', async () => {
    const file = join(dir, 'c1.log');
    writeFileSync(file, 'from the previous run\n');
    await writeThroughLog(file, 100 * 1024);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('from the previous run\n{"level":30')).toBe(true);
    expect(readdirSync(dir).filter((n) => n.startsWith('c1.log'))).toEqual(['c1.log']);
  });
});
