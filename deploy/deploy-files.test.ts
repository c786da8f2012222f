// Docker cannot run here, so docker-compose.yml, the Dockerfile and the Grafana files are checked for
// what a `docker compose up` relies on: services and their wiring, ports, volumes, healthchecks,
// provisioning paths, and dashboard panels bound to the provisioned datasource with valid PromQL.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../test/cluster-harness.ts';
import { loadConfig } from '../common/config.ts';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  container_name?: string;
}

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const services = compose.services;
const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'dashboards', 'shardflow.json'), 'utf8')) as {
  uid: string;
  panels: { id: number; title: string; type: string; datasource: { type: string; uid: string }; gridPos: Record<string, number>; targets: { refId: string; expr: string }[] }[];
};
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

describe('docker-compose.yml', () => {
  it('has a 3-node NATS JetStream cluster whose nodes route to each other and keep their store on a volume', () => {
    for (const n of ['nats1', 'nats2', 'nats3']) {
      const s = services[n]!;
      const args = s.command!.join(' ');
      expect(args).toMatch(/--jetstream/);
      expect(args).toMatch(/--cluster_name shardflow/);
      for (const other of ['nats1', 'nats2', 'nats3'].filter((o) => o !== n)) expect(args).toContain(`nats://${other}:6222`);
      expect(s.volumes).toEqual([`${n}-data:/data`]);
      expect(s.healthcheck!.test.join(' ')).toMatch(/healthz\?js-enabled-only=true/);
    }
    // Clients reach the cluster on the project's default port, not the common 4222.
    expect(services.nats1!.ports).toContain('4322:4222');
  });

  it('runs 2 coordinators, a scalable worker, a live producer and MongoDB, all on the built image with healthchecks', () => {
    for (const name of ['coordinator-1', 'coordinator-2', 'worker', 'producer']) {
      const s = services[name]!;
      expect(s.build).toBe('.');
      expect(s.healthcheck!.test.join(' ')).toContain('9464/metrics');
      expect(Object.keys(s.depends_on!).sort()).toEqual(['mongo', 'nats1', 'nats2', 'nats3']);
      expect(Object.values(s.depends_on!).every((d) => d.condition === 'service_healthy')).toBe(true);
      // The environment is valid for the one config schema every process loads.
      const config = loadConfig(Object.fromEntries(Object.entries(s.environment!).map(([k, v]) => [k, String(v)])));
      expect(config.REPLICAS).toBe(3);
      expect(config.NATS_URL.split(',')).toHaveLength(3);
    }
    expect(services['coordinator-1']!.command).toEqual(['coordinator', '--id', 'c1']);
    expect(services['coordinator-2']!.command).toEqual(['coordinator', '--id', 'c2']);
    expect(services.worker!.command).toEqual(['worker', '--job', 'station-sentiment']);
    expect(services.producer!.command).toEqual(expect.arrayContaining(['produce', '--live']));
    // `--scale worker=N` needs no fixed name and no host port.
    expect(services.worker!.container_name).toBeUndefined();
    expect(services.worker!.ports).toBeUndefined();
    expect(services.mongo!.volumes).toEqual(['mongo-data:/data/db']);
    expect(services.mongo!.healthcheck!.test.join(' ')).toMatch(/ping/);
    expect(JSON.parse(services.worker!.environment!.SHARDFLOW_SINK!)).toMatchObject({ type: 'mongodb', url: 'mongodb://mongo:27017' });
  });

  it('wires Prometheus to every shardflow service and Grafana to the provisioned dashboard', () => {
    const prom = services.prometheus!;
    expect(prom.ports).toContain('9090:9090');
    const mounted = prom.volumes!.find((v) => v.endsWith(':/etc/prometheus/prometheus.yml:ro'))!;
    const promConfig = parse(readFileSync(join(ROOT, mounted.split(':')[0]!), 'utf8')) as { scrape_configs: { honor_labels: boolean; dns_sd_configs: { names: string[]; port: number }[] }[] };
    expect(promConfig.scrape_configs[0]!.honor_labels).toBe(true);
    expect(promConfig.scrape_configs[0]!.dns_sd_configs[0]!.names.sort()).toEqual(['coordinator-1', 'coordinator-2', 'producer', 'worker']);
    expect(promConfig.scrape_configs[0]!.dns_sd_configs[0]!.port).toBe(9464);

    const grafana = services.grafana!;
    expect(grafana.ports).toContain('3000:3000');
    for (const v of grafana.volumes!.filter((v) => v.startsWith('./'))) expect(existsSync(join(ROOT, v.split(':')[0]!))).toBe(true);
    expect(grafana.environment!.PROMETHEUS_URL).toBe('http://prometheus:9090');
    const datasources = parse(readFileSync(join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: { uid: string; url: string }[] };
    expect(datasources.datasources[0]!.url).toBe('${PROMETHEUS_URL}');
    const providers = parse(readFileSync(join(ROOT, 'deploy/grafana/provisioning/dashboards/shardflow.yml'), 'utf8')) as { providers: { options: { path: string } }[] };
    expect(grafana.volumes).toContain(`./deploy/grafana/dashboards:${providers.providers[0]!.options.path}:ro`);
    // Every named volume is declared.
    const named = Object.values(services).flatMap((s) => (s.volumes ?? []).map((v) => v.split(':')[0]!)).filter((v) => !v.startsWith('.'));
    for (const v of named) expect(compose.volumes).toHaveProperty(v);
  });

  it('builds an image that runs the CLI and carries every source folder it imports', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "bin\/shardflow.mjs"\]/);
    const copied = [...dockerfile.matchAll(/^COPY (\S+) \.\/\S*$/gm)].map((m) => m[1]);
    // tsx is needed at run time, so it must not be a devDependency.
    expect(Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: object }).dependencies)).toContain('tsx');
    for (const folder of ['actors', 'bin', 'cli', 'cluster', 'common', 'coordinator', 'engine', 'jobs']) expect(copied).toContain(folder);
  });
});

describe('the Grafana dashboard', () => {
  it('has panels with unique ids, a layout, and queries bound to the provisioned Prometheus datasource', () => {
    const uid = (parse(readFileSync(join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: { uid: string }[] }).datasources[0]!.uid;
    expect(dashboard.uid).toBe('shardflow-overview');
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    const titles = dashboard.panels.map((p) => p.title).join(' | ');
    for (const topic of [/processed/i, /lag/i, /watermark/i, /checkpoint/i, /rebalance/i, /leader/i, /dead letter/i]) expect(titles).toMatch(topic);
    for (const p of dashboard.panels) {
      expect(p.datasource).toEqual({ type: 'prometheus', uid });
      expect(p.gridPos.w).toBeGreaterThan(0);
      expect(p.targets.length).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.expr).toMatch(/shardflow_|\bup\b/);
    }
  });

  it.skipIf(!hasPromtool)('has PromQL that Prometheus parses (promtool check rules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shardflow-rules-'));
    try {
      const rules = dashboard.panels.flatMap((p) => p.targets.map((t, i) => `      - record: panel_${p.id}_${i}\n        expr: ${JSON.stringify(t.expr)}`));
      writeFileSync(join(dir, 'rules.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
      const r = spawnSync('promtool', ['check', 'rules', join(dir, 'rules.yml')], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
