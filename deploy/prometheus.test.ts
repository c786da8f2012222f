// deploy/prometheus.yml against a running local cluster (`shardflow up`) and a real Prometheus (the
// Debian package `prometheus`): every process is discovered and scraped, and every PromQL expression
// of the Grafana dashboard returns data. The authorization of deploy/prometheus.docker.yml against a
// metrics server that wants a token. Without prometheus installed the tests say so and skip, except
// under CI, where that is a failure (.ci/run installs it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort } from '../cluster/nats-server.ts';
import { startMetricsServer } from '../common/metrics-server.ts';
import { ROOT, waitFor } from '../test/cluster-harness.ts';
import { startUp, type UpRun } from '../test/local-up.ts';

const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;
const reason = 'prometheus is not installed (Debian package `prometheus`; .ci/run installs it)';
if (!hasPrometheus && process.env.CI === 'true') throw new Error(`${reason}: required under CI`);
if (!hasPrometheus) console.warn(`deploy/prometheus.test.ts skipped: ${reason}`);

interface Panel {
  title: string;
  datasource: { uid: string };
  targets: { expr: string }[];
}

const dir = mkdtempSync(join(tmpdir(), 'shardflow-prom-'));
let up: UpRun | undefined;
let prometheus: ChildProcess | undefined;
afterAll(async () => {
  prometheus?.kill('SIGKILL');
  if (up && up.child.exitCode === null) {
    up.child.kill('SIGTERM');
    await up.exit;
  }
  rmSync(dir, { recursive: true, force: true });
});

async function query(base: string, expr: string): Promise<unknown[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  if (body.status !== 'success') throw new Error(`PromQL error for ${expr}: ${body.error}`);
  return body.data!.result;
}

describe.skipIf(!hasPrometheus)('deploy/prometheus.yml with a real Prometheus', () => {
  it('scrapes every process of the local cluster, and every dashboard query returns data', async () => {
    const dataDir = join(dir, 'data');
    const env = { PATH: process.env.PATH ?? '', SHARDFLOW_DATA_DIR: dataDir, SHARDFLOW_NATS_URL: `nats://127.0.0.1:${await freePort()}`, SHARDFLOW_CHECKPOINT_INTERVAL_MS: '500' };
    up = await startUp(['--workers', '2', '--rate', '300'], env);

    // The shipped configuration, pointed at this cluster's targets file and scraped every second.
    const config = parse(readFileSync(join(ROOT, 'deploy', 'prometheus.yml'), 'utf8')) as {
      global: Record<string, string>;
      scrape_configs: { job_name: string; file_sd_configs: { files: string[] }[] }[];
    };
    expect(config.scrape_configs[0]!.file_sd_configs[0]!.files).toEqual(['../.shardflow/prometheus/targets.json']);
    config.global.scrape_interval = '1s';
    config.scrape_configs[0]!.file_sd_configs[0]!.files = [join(dataDir, 'prometheus', 'targets.json')];
    mkdirSync(join(dir, 'prom'), { recursive: true });
    writeFileSync(join(dir, 'prom', 'prometheus.yml'), stringify(config));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let promOut = '';
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prom', 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'prom', 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stderr!.on('data', (d: Buffer) => (promOut += d.toString()));

    // launcher + 2 coordinators + 2 workers, all up.
    await waitFor(
      async () => {
        const ups = (await query(base, 'up == 1').catch(() => [])) as { metric: { role: string } }[];
        const roles = ups.map((u) => u.metric.role).sort();
        return JSON.stringify(roles) === JSON.stringify(['coordinator', 'coordinator', 'launcher', 'worker', 'worker']);
      },
      60_000,
      `Prometheus to scrape every process\n${promOut.slice(-2_000)}`,
    );

    const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'dashboards', 'shardflow.json'), 'utf8')) as { panels: Panel[] };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThan(10);
    const empty = new Set(exprs.map((e) => e.expr));
    try {
      await waitFor(
        async () => {
          for (const e of exprs) if (empty.has(e.expr) && (await query(base, e.expr)).length > 0) empty.delete(e.expr);
          return empty.size === 0;
        },
        90_000,
        'every dashboard query to return data',
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; still empty:\n${exprs.filter((e) => empty.has(e.expr)).map((e) => `  ${e.panel}: ${e.expr}`).join('\n')}`);
    }
    // The job label is the shardflow job's, not Prometheus' scrape job (honor_labels).
    expect(await query(base, 'sum by (job) (shardflow_events_processed_total)')).toEqual([expect.objectContaining({ metric: { job: 'station-sentiment' } })]);

    up.child.kill('SIGTERM');
    expect(await up.exit).toBe(0);
  }, 240_000);
});

describe.skipIf(!hasPrometheus)('deploy/prometheus.docker.yml with a real Prometheus', () => {
  it('scrapes a /metrics that wants a token with the token file, and is refused without it', async () => {
    const token = 'docker-compose-metrics-token';
    const metricsServer = await startMetricsServer({ port: 0, host: '127.0.0.1', token });
    const promDir = join(dir, 'docker-prom');
    mkdirSync(promDir, { recursive: true });
    let child: ChildProcess | undefined;
    try {
      // The shipped scrape configuration, with the secret file and the target moved here: once as
      // shipped, once without its authorization, to show the token is what lets it in.
      const config = parse(readFileSync(join(ROOT, 'deploy', 'prometheus.docker.yml'), 'utf8')) as {
        global: Record<string, string>;
        scrape_configs: { job_name: string; authorization?: { credentials_file: string }; dns_sd_configs?: unknown; relabel_configs?: unknown; static_configs?: unknown }[];
      };
      writeFileSync(join(promDir, 'metrics_token'), `${token}\n`);
      const scrape = config.scrape_configs[0]!;
      expect(scrape.authorization!.credentials_file).toBe('/run/secrets/metrics_token');
      scrape.authorization!.credentials_file = join(promDir, 'metrics_token');
      delete scrape.dns_sd_configs;
      delete scrape.relabel_configs;
      scrape.static_configs = [{ targets: [`127.0.0.1:${metricsServer.port}`] }];
      const { authorization: _, ...anonymous } = scrape;
      config.scrape_configs = [scrape, { ...anonymous, job_name: 'anonymous' }];
      config.global.scrape_interval = '1s';
      writeFileSync(join(promDir, 'prometheus.yml'), stringify(config));

      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      let promOut = '';
      child = spawn('prometheus', [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stderr!.on('data', (d: Buffer) => (promOut += d.toString()));
      const upOf = async (job: string) => ((await query(base, `up{job="${job}"}`).catch(() => [])) as { value: [number, string] }[])[0]?.value[1];
      await waitFor(async () => (await upOf('shardflow')) === '1' && (await upOf('anonymous')) === '0', 30_000, `Prometheus to scrape with the token and be refused without\n${promOut.slice(-2_000)}`);
      expect((await query(base, 'shardflow_process_cpu_seconds_total{job="shardflow"}')).length).toBeGreaterThan(0);
    } finally {
      child?.kill('SIGKILL');
      await metricsServer.close();
    }
  }, 60_000);
});
