// `shardflow chaos` end to end, a short run of every scenario: real local clusters (one NATS server,
// or three with replicated streams), real kill -9, SIGSTOP, SIGTERM and NATS node loss. Each must end
// with an exact verdict, every planned fault injected and recovered, and its report written.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../test/cluster-harness.ts';
import type { ChaosReport } from './report.ts';
import { SCENARIO_NAMES, SCENARIOS } from './scenarios.ts';

const dir = mkdtempSync(join(tmpdir(), 'shardflow-chaos-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function chaos(args: string[], dataDir = dir): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'shardflow.mjs'), 'chaos', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', SHARDFLOW_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

/** Seconds of each short run: long enough for the scenario's faults to play out. */
const DURATION: Record<(typeof SCENARIO_NAMES)[number], number> = {
  'worker-kill': 8,
  'leader-kill': 9,
  'worker-pause': 8,
  'rolling-restart': 8,
  'scale-storm': 8,
  'nats-node-kill': 12,
  mixed: 14,
};

describe('shardflow chaos', () => {
  it.each(SCENARIO_NAMES.map((s) => [s]))(
    '%s: the results stay exact and every fault is injected, recovered and reported',
    async (scenario) => {
      const report = join(dir, `${scenario}.json`);
      const run = await chaos(['--scenario', scenario, '--duration', String(DURATION[scenario]), '--workers', '3', '--rate', '150', '--seed', '7', '--report', report, '--drain', '60']);
      expect(run.out).toContain('verdict        EXACT');
      expect(run.code, run.out).toBe(0);
      const r = JSON.parse(readFileSync(report, 'utf8')) as ChaosReport;
      expect(r.verdict.exact).toBe(true);
      expect(r.verdict.input.published).toBeGreaterThan(DURATION[scenario] * 100);
      expect(r.verdict.input.lost + r.verdict.input.duplicated).toBe(0);
      expect(r.verdict.results.expected).toBeGreaterThan(100);
      // The chaos input has 1% broken records: they are all in the dead-letter stream, with reasons.
      expect(r.verdict.deadLettered.expected).toBeGreaterThan(0);
      expect(r.faults.length).toBeGreaterThanOrEqual(Math.max(1, SCENARIOS[scenario].minFaults));
      for (const f of r.faults) {
        expect(f.error, `${f.kind} ${f.target}`).toBeUndefined();
        expect(f.recoveryMs, `${f.kind} ${f.target} recovered`).not.toBeNull();
      }
      const html = readFileSync(report.replace(/\.json$/, '.html'), 'utf8');
      expect(html).toContain('EXACT');
      for (const f of r.faults) expect(html).toContain(f.detail.replace(/&/g, '&amp;'));
      expect(html).toMatch(/<svg[^>]*aria-label="events per second"/);
    },
    240_000,
  );

  it('exits 2 with the list of scenarios for an unknown one', async () => {
    const dataDir = join(dir, 'unknown');
    const run = await chaos(['--scenario', 'meteor'], dataDir);
    expect(run.code).toBe(2);
    expect(run.out).toContain('there is no scenario "meteor"; one of: worker-kill, leader-kill, worker-pause, rolling-restart, scale-storm, nats-node-kill, mixed');
    // Nothing was started.
    expect(existsSync(dataDir)).toBe(false);
  });
});
