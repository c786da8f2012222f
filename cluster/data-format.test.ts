// The data folder's format marker: `npm start` marks a new data folder as this version's, and refuses
// one whose NATS store an older (or newer) shardflow wrote, with one line that says what to do, before
// it starts anything.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/logger.ts';
import type { Job } from '../jobs/define-job.ts';
import countingJob from '../test/fixtures/counting-job.ts';
import { claimDataFolder, DATA_FORMAT, LocalCluster } from './local-cluster.ts';
import { freePort } from './nats-server.ts';

const root = mkdtempSync(join(tmpdir(), 'shardflow-format-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let folders = 0;
function dataDir(setup: { natsStore?: boolean; marker?: string } = {}): string {
  const dir = join(root, `data-${++folders}`);
  mkdirSync(dir, { recursive: true });
  if (setup.natsStore) mkdirSync(join(dir, 'nats', 'jetstream'), { recursive: true });
  if (setup.marker !== undefined) writeFileSync(join(dir, 'FORMAT'), setup.marker);
  return dir;
}

describe('the data folder format marker', () => {
  it("marks a folder without a NATS store as this version's", () => {
    const dir = join(root, 'fresh', 'data');
    claimDataFolder(dir);
    expect(readFileSync(join(dir, 'FORMAT'), 'utf8')).toBe(`${DATA_FORMAT}\n`);
    // Starting again on the folder it marked is fine.
    mkdirSync(join(dir, 'nats'));
    expect(() => claimDataFolder(dir)).not.toThrow();
  });

  it('refuses a NATS store without a marker (made before it existed), saying to move or delete it', () => {
    const dir = dataDir({ natsStore: true });
    const nats = join(dir, 'nats');
    expect(() => claimDataFolder(dir)).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: `${nats} was made by an older shardflow (data format 1, no FORMAT file) and this version reads format ${DATA_FORMAT} only: nothing in it can be read by this version; move it away (mv ${nats} ${nats}.old) or delete it (rm -rf ${nats}), or set SHARDFLOW_DATA_DIR to another folder, then start again`,
      }),
    );
    expect(existsSync(join(dir, 'FORMAT'))).toBe(false);
  });

  it('refuses a store of a lower or unreadable format, and one of a newer shardflow', () => {
    expect(() => claimDataFolder(dataDir({ natsStore: true, marker: '1\n' }))).toThrow(/made by an older shardflow \(data format "1"\)/);
    expect(() => claimDataFolder(dataDir({ natsStore: true, marker: 'two' }))).toThrow(/made by an older shardflow \(data format "two"\)/);
    expect(() => claimDataFolder(dataDir({ natsStore: true, marker: `${DATA_FORMAT + 1}\n` }))).toThrow(new RegExp(`made by a newer shardflow \\(data format ${DATA_FORMAT + 1}\\)`));
  });

  it('takes a folder whose old store was deleted as new, whatever its marker said', () => {
    const dir = dataDir({ marker: '1\n' });
    claimDataFolder(dir);
    expect(readFileSync(join(dir, 'FORMAT'), 'utf8')).toBe(`${DATA_FORMAT}\n`);
  });

  it('makes `npm start` (LocalCluster.up) refuse an older folder before starting any process', async () => {
    const dir = dataDir({ natsStore: true });
    const up = LocalCluster.up({
      dataDir: dir,
      natsPort: await freePort(),
      coordinators: 1,
      workers: 1,
      job: countingJob as Job<unknown>,
      jobSpec: 'test/fixtures/counting-job.ts',
      rate: 0,
      log: createLogger('launcher', 'silent'),
      env: {},
    });
    await expect(up).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/older shardflow.*move it away/) });
    // Nothing was started or written: no server config, no logs.
    expect(readdirSync(join(dir, 'nats'))).toEqual(['jetstream']);
    expect(existsSync(join(dir, 'logs'))).toBe(false);
  });
});
