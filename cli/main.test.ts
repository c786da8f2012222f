import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '..', 'bin', 'shardflow.mjs');

function shardflow(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the shardflow command', () => {
  it('runs a job in-process and writes one NDJSON result per key and window', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'shardflow-cli-')), 'results.ndjson');
    const r = shardflow(['run', '--job', 'station-sentiment', '--events', '3000', '--seed', '5', '--out', out], { SHARDFLOW_LOG_LEVEL: 'warn' });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/events in\s+3000/);
    expect(r.stdout).toMatch(/dead-lettered\s+\d+ \(/);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.length).toBeGreaterThan(10);
    expect(rows[0]).toMatchObject({ job: 'station-sentiment', key: expect.stringMatching(/^ST-\d\d\|/), window_start: expect.any(Number), window_end: expect.any(Number), feedback: expect.any(Number) });
    expect(new Set(rows.map((x) => `${x.key}|${x.window_start}`)).size).toBe(rows.length);
  });

  it('exits 2 with advice for an unknown job, an unknown flag or an unknown setting', () => {
    const unknownJob = shardflow(['run', '--job', 'nope']);
    expect(unknownJob.code).toBe(2);
    expect(unknownJob.stderr).toMatch(/no job named "nope"; available: station-sentiment/);
    const badFlag = shardflow(['run', '--jbo', 'x']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/--jbo/);
    const badEnv = shardflow(['jobs'], { SHARDFLOW_LOGLEVEL: 'debug' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toMatch(/unknown setting SHARDFLOW_LOGLEVEL; known: SHARDFLOW_LOG_LEVEL/);
  });

  it('takes the NATS connection from flags over the environment, and checks it in one place', async () => {
    const { freePort } = await import('../cluster/nats-server.ts');
    const closed = await freePort();
    const viaFlag = shardflow(['status', '--nats-url', `nats://127.0.0.1:${closed}`], { SHARDFLOW_NATS_URL: 'nats://127.0.0.1:1' });
    expect(viaFlag.code).toBe(1);
    expect(viaFlag.stderr).toMatch(new RegExp(`cannot reach NATS at nats://127.0.0.1:${closed} \\(SHARDFLOW_NATS_URL\\)`));
    const half = shardflow(['status', '--nats-user=alice']);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/SHARDFLOW_NATS_PASSWORD: is required with SHARDFLOW_NATS_USER/);
    const two = shardflow(['status'], { SHARDFLOW_NATS_TOKEN: 'abcdefgh', SHARDFLOW_NATS_USER: 'alice', SHARDFLOW_NATS_PASSWORD: 'pw-not-shown' });
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/choose one way to authenticate/);
    expect(two.stderr).not.toContain('pw-not-shown');
    const missingFile = shardflow(['status', '--nats-creds-file', '/nonexistent/user.creds']);
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr).toMatch(/SHARDFLOW_NATS_CREDS_FILE: "\/nonexistent\/user.creds" is not a readable file/);
  });

  it('exits 2 for a worker or coordinator --id that its environment variable would refuse, saying what an id may contain', () => {
    const rule = /an id is 1 to 64 letters, digits, "-" or "_"/;
    const worker = shardflow(['worker', '--job', 'station-sentiment', '--id', 'w.1']);
    expect(worker.code).toBe(2);
    expect(worker.stderr).toMatch(/--id "w\.1" is not a valid id/);
    expect(worker.stderr).toMatch(rule);
    const coordinator = shardflow(['coordinator', '--id', 'c'.repeat(65)]);
    expect(coordinator.code).toBe(2);
    expect(coordinator.stderr).toMatch(rule);
    const fromEnv = shardflow(['jobs'], { SHARDFLOW_WORKER_ID: 'w.1' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(rule);
  });

  it('prints help for every verb', () => {
    expect(shardflow(['--help'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/Commands:/) });
    for (const verb of ['up', 'scale', 'kill', 'down', 'run', 'worker', 'coordinator', 'status', 'produce', 'results', 'compact', 'chaos', 'schema']) {
      expect(shardflow([verb, '--help'])).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^Usage: shardflow ${verb}`)) });
    }
    expect(shardflow(['kill', 'everything'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/kill worker\|coordinator\|leader/) });
  });
});
