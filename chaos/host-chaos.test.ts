// The multi-host cluster end to end: three hosts made as network namespaces on a private bridge, a
// NATS node on each, coordinators on two, workers on all three, talking over the hosts' addresses.
// A chaos run cuts a host off and heals it, another kills every process of a host at once; `shardflow
// up --hosts 3` starts and tears down. (slow-network, clock-skew and hosts-mixed run in the bench:
// hosts-mixed, partitions overlapping host losses, is not reliably exact on nats-server 2.9, see
// README "Many hosts and network faults".) Root only: skipped with
// the reason elsewhere, required under CI (which runs as root).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNatsServerBinary } from '../cluster/nats-server.ts';
import { removeLeftovers, virtualHostsUnavailable } from '../cluster/virtual-hosts.ts';
import { ROOT } from '../test/cluster-harness.ts';
import type { ChaosReport } from './report.ts';

const reason = virtualHostsUnavailable();
if (reason && process.env.CI === 'true') throw new Error(`${reason}: required under CI`);

/** nats-server before 2.11 can store a retried message twice when a stream's leader moves during a
 *  partition (a new leader takes writes before it has applied its log: nats-io/nats-server#6485 and
 *  #6486); the verdict then fails on NATS's log, whatever shardflow does. */
const natsVersion = /v(\d+)\.(\d+)/.exec(execFileSync(findNatsServerBinary(), ['--version'], { encoding: 'utf8' }));
const partitionDedupeBroken = natsVersion !== null && (Number(natsVersion[1]) < 2 || (Number(natsVersion[1]) === 2 && Number(natsVersion[2]) < 11));
const dedupeReason = `nats-server ${natsVersion?.[0] ?? '?'} can store a message twice across a partition (fixed in 2.11, nats-io/nats-server#6485)`;

/** What of the machine's own network a run could leave behind: namespaces, links, firewall rules. */
function networkState(): { namespaces: string[]; links: string[]; rules: string } {
  const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
  return {
    namespaces: sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('sf-')).sort(),
    links: sh('ip', ['-o', 'link', 'show']).split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '').filter((n) => n.startsWith('sf-')).sort(),
    rules: sh('iptables', ['-S']),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'shardflow-hosts-'));
const children = new Set<ChildProcess>();

function cli(args: string[], dataDir: string): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'shardflow.mjs'), ...args], {
    cwd: ROOT,
    // The console on a free port of this machine (8080 may be another test's).
    env: { PATH: process.env.PATH ?? '', SHARDFLOW_DATA_DIR: dataDir, SHARDFLOW_CONSOLE_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => children.delete(child));
  return { child, out: () => out, exited };
}

describe.skipIf(reason !== undefined)(`a cluster on 3 hosts (network namespaces)${reason ? ` (skipped: ${reason})` : ''}`, () => {
  const before = reason ? undefined : networkState();

  afterAll(async () => {
    // A launcher killed here cannot delete its hosts; its leftovers are recognised by its dead pid.
    await Promise.all([...children].map((c) => new Promise((resolve) => (c.kill('SIGKILL') && c.exitCode === null ? c.once('exit', resolve) : resolve(undefined)))));
    removeLeftovers();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One `shardflow chaos` run on 3 hosts; its report, after the checks every host run must pass. */
  async function hostChaos(scenario: string, durationS: number): Promise<{ r: ChaosReport; code: number | null; out: string }> {
    const report = join(dir, `${scenario}.json`);
    const run = cli(['chaos', '--scenario', scenario, '--duration', String(durationS), '--workers', '5', '--rate', '150', '--seed', '7', '--report', report, '--drain', '60'], join(dir, scenario));
    const code = await run.exited;
    const r = JSON.parse(readFileSync(report, 'utf8')) as ChaosReport;
    expect(r.verdict.results.expected).toBeGreaterThan(300);
    expect(r.verdict.deadLettered.expected).toBeGreaterThan(0);
    // Every process ran on its host: n1 c1 w1 w4 on h1, n2 c2 w2 w5 on h2, n3 w3 on h3.
    expect(Object.fromEntries(r.hosts!.map((p) => [p.id, p.host]))).toEqual({ n1: 'h1', n2: 'h2', n3: 'h3', c1: 'h1', c2: 'h2', w1: 'h1', w2: 'h2', w3: 'h3', w4: 'h1', w5: 'h2' });
    expect(r.faults.length).toBeGreaterThanOrEqual(1);
    for (const f of r.faults) {
      expect(f.kind).toBe(scenario);
      expect(f.error, `${f.kind} ${f.target}`).toBeUndefined();
    }
    expect(r.leaderTerms!.terms).toBeGreaterThanOrEqual(1);
    expect(r.leaderTerms!.conflicts).toEqual([]);
    expect(r.epochRegressions).toEqual([]);
    expect(r.futureMarkers).toBe(0);
    expect(networkState()).toEqual(before);
    return { r, code, out: run.out() };
  }

  /** The verdict: exact results, nothing lost or stored twice, every fault recovered, exit code 0. */
  function expectExact(run: { r: ChaosReport; code: number | null; out: string }): void {
    for (const f of run.r.faults) expect(f.recoveryMs, `${f.kind} ${f.target} recovered`).not.toBeNull();
    expect(run.out).toContain('verdict        EXACT');
    expect(run.code, run.out).toBe(0);
    expect(run.r.verdict.exact).toBe(true);
    expect(run.r.verdict.input.lost + run.r.verdict.input.duplicated).toBe(0);
  }

  describe('a host cut off the network and healed', () => {
    let partition: { r: ChaosReport; code: number | null; out: string } | undefined;
    beforeAll(async () => {
      partition = await hostChaos('network-partition', 14);
    }, 180_000);

    it('has one leader per term, no write of a cut-off owner landing, and nothing left behind', () => {
      // The cut-off workers either learn the new assignment and stop, or try to write and are refused
      // (counted in r.fenced); what must never happen is a checkpoint of theirs landing after their
      // successor's (hostChaos checks that epochs never go back). hostChaos checked the rest.
      expect(partition!.r.faults[0]!.detail).toMatch(/^host h\d \(n\d, .*\) cut off the network for 6000 ms, then healed$/);
    });

    it(partitionDedupeBroken ? `loses no acknowledged event (exact results need nats-server 2.11+: ${dedupeReason})` : 'recovers and keeps the results exact', () => {
      if (!partitionDedupeBroken) return expectExact(partition!);
      // This nats-server may store a producer's retry twice and keep its streams unavailable for a
      // while after the heal; what must still hold is that no acknowledged event is missing from the log.
      const { lost, duplicated } = partition!.r.verdict.input;
      process.stdout.write(`network-partition on nats-server ${natsVersion?.[0]}: ${lost} events lost, ${duplicated} stored twice by NATS\n`);
      expect(lost).toBe(0);
    });
  });

  it('stays exact when every process of a host is killed at once, its NATS node included', async () => {
    const run = await hostChaos('host-kill', 12);
    expectExact(run);
    expect(run.r.faults[0]!.detail).toMatch(/kill -9 of every process of host h\d: n\d \(pid \d+\)/);
  }, 180_000);

  it('shardflow up --hosts 3 runs every process on its host and Ctrl-C deletes every namespace, link and rule it made', async () => {
    const up = cli(['up', '--hosts', '3', '--rate', '50'], join(dir, 'up'));
    const deadline = Date.now() + 90_000;
    while (!up.out().includes('shardflow local cluster is up')) {
      if (Date.now() > deadline || up.child.exitCode !== null) throw new Error(`up did not come up:\n${up.out()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const pid = up.child.pid!;
    const processes = /processes +(.*)/.exec(up.out())![1]!.split(' ');
    // The console runs next to the launcher, on this machine, and reads the hosts' NATS from there.
    expect(processes.map((p) => p.replace(/:\d+/, ''))).toEqual(['n1@h1', 'n2@h2', 'n3@h3', 'c1@h1', 'c2@h2', 'w1@h1', 'w2@h2', 'w3@h3', 'w4@h1', 'w5@h2', 'console']);
    const consoleUrl = /console +(http:\/\/\S+)/.exec(up.out())![1]!;
    const workersSeen = async () => ((await (await fetch(`${consoleUrl}/api/cluster`)).json()) as { workers: { alive: boolean; host: string }[] }).workers.filter((w) => w.alive).length;
    const consoleDeadline = Date.now() + 30_000;
    while ((await workersSeen().catch(() => 0)) < 5) {
      if (Date.now() > consoleDeadline) throw new Error('the console did not show the 5 workers of the 3 hosts');
      await new Promise((r) => setTimeout(r, 200));
    }
    // Each process is in its host's namespace, and the NATS nodes listen on the hosts' addresses.
    for (const p of processes.filter((p) => p.includes('@'))) {
      const [, id, procPid, host] = /^(\w+):(\d+)@(h\d)$/.exec(p)!;
      expect(execFileSync('ip', ['netns', 'pids', `sf-${pid}-${host}`], { encoding: 'utf8' }).split('\n'), id).toContain(procPid);
    }
    expect(up.out()).toMatch(/nats +nats:\/\/10\.203\.\d+\.1:4222,nats:\/\/10\.203\.\d+\.2:4222,nats:\/\/10\.203\.\d+\.3:4222/);
    expect(networkState().namespaces).toEqual([...(before?.namespaces ?? []), `sf-${pid}-h1`, `sf-${pid}-h2`, `sf-${pid}-h3`, `sf-${pid}-sw`].sort());
    up.child.kill('SIGINT');
    expect(await up.exited, up.out()).toBe(0);
    expect(up.out()).toContain('stopped.');
    expect(networkState()).toEqual(before);
  }, 180_000);
});
