// Docker cannot run here, so docker-compose.yml, the Dockerfile and the Grafana files are checked for
// what a `docker compose up` relies on: services and their wiring, ports, volumes, healthchecks,
// provisioning paths, and dashboard panels bound to the provisioned datasource with valid PromQL; and
// for its hardening: ports on loopback only, passwords and the metrics token required from `.env`, a NATS
// user per role. deploy/nats-config.test.ts runs the NATS configuration on real nats-servers.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ROOT } from '../test/cluster-harness.ts';
import { interpolateTree, MissingVariableError, variableReferences } from '../test/compose-interpolation.ts';
import { loadConfig } from '../common/config.ts';
import { deploymentUsers } from './nats/render.ts';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: (string | { host_ip?: string; published?: string | number })[];
  volumes?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  container_name?: string;
  network_mode?: string;
  secrets?: (string | { source: string; target?: string; mode?: number })[];
}

interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets?: Record<string, { environment?: string; file?: string }>;
}

const SHARDFLOW_SERVICES = ['coordinator-1', 'coordinator-2', 'worker', 'producer'];
const composeText = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
/** As written: every `${VAR:?...}` still in place. */
const raw = parse(composeText, { merge: true }) as Compose;
/** deploy/.env.example as compose reads it from `.env`, its empty secrets filled in. */
const envExample = parseEnvFile(readFileSync(join(ROOT, 'deploy', '.env.example'), 'utf8'));
const env = Object.fromEntries(Object.entries(envExample).map(([k, v]) => [k, v || randomBytes(16).toString('hex')]));
/** What compose runs with that `.env`. */
const compose = interpolateTree(raw, env);
const services = compose.services;
const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'dashboards', 'shardflow.json'), 'utf8')) as {
  uid: string;
  panels: { id: number; title: string; type: string; datasource: { type: string; uid: string }; gridPos: Record<string, number>; targets: { refId: string; expr: string }[] }[];
};
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

function parseEnvFile(text: string): Record<string, string> {
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
  return Object.fromEntries(
    lines.map((l) => {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(l);
      if (!m) throw new Error(`not KEY=VALUE in deploy/.env.example: ${l}`);
      return [m[1]!, m[2]!];
    }),
  );
}

/** The settings a shardflow service's process loads, through the one config schema. */
function serviceConfig(name: string) {
  return loadConfig(Object.fromEntries(Object.entries(services[name]!.environment!).map(([k, v]) => [k, String(v)])));
}

describe('docker-compose.yml', () => {
  it('has a 3-node NATS JetStream cluster whose nodes share deploy/nats/nats-server.conf, route to each other and keep their store on a volume', () => {
    const natsConfig = readFileSync(join(ROOT, 'deploy', 'nats', 'nats-server.conf'), 'utf8');
    for (const n of ['nats1', 'nats2', 'nats3']) {
      const s = services[n]!;
      const args = s.command!.join(' ');
      // JetStream, its store and the monitoring port come from the file (deploy/nats-config.test.ts).
      expect(args).toMatch(/^--config \/etc\/nats\/nats-server\.conf --name /);
      expect(args).toMatch(/--cluster_name shardflow/);
      // A flag would open monitoring on every interface, past the file's loopback.
      expect(args).not.toMatch(/--http_port|-m |--jetstream|--store_dir/);
      for (const other of ['nats1', 'nats2', 'nats3'].filter((o) => o !== n)) expect(args).toContain(`nats://${other}:6222`);
      expect(s.volumes).toEqual(['./deploy/nats/nats-server.conf:/etc/nats/nats-server.conf:ro', `${n}-data:/data`]);
      expect(natsConfig).toMatch(/^ {2}store_dir: "\/data"$/m);
      expect(s.healthcheck!.test.join(' ')).toMatch(/127\.0\.0\.1:8222\/healthz\?js-enabled-only=true/);
      expect(natsConfig).toMatch(/^http: "127\.0\.0\.1:8222"$/m);
    }
    // Clients reach the cluster on the project's default port, not the common 4222.
    expect(services.nats1!.ports).toEqual(['127.0.0.1:4322:4222']);
  });

  it('runs 2 coordinators, a scalable worker, a live producer and MongoDB, all on the built image with healthchecks', () => {
    for (const name of SHARDFLOW_SERVICES) {
      const s = services[name]!;
      expect(s.build).toBe('.');
      expectHealthcheckWithToken(s.healthcheck!.test);
      expect(s.environment!.SHARDFLOW_METRICS_PORT).toBe('9464');
      expect(Object.keys(s.depends_on!).sort()).toEqual(['mongo', 'nats1', 'nats2', 'nats3']);
      expect(Object.values(s.depends_on!).every((d) => d.condition === 'service_healthy')).toBe(true);
      // The environment is valid for the one config schema every process loads.
      const config = serviceConfig(name);
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
    expect(serviceConfig('worker').SINK).toMatchObject({ type: 'mongodb', database: 'corridor', collection: 'station_sentiment' });
  });

  it('wires Prometheus to every shardflow service and Grafana to the provisioned dashboard', () => {
    const prom = services.prometheus!;
    expect(prom.ports).toEqual(['127.0.0.1:9090:9090']);
    const mounted = prom.volumes!.find((v) => v.endsWith(':/etc/prometheus/prometheus.yml:ro'))!;
    const promConfig = parse(readFileSync(join(ROOT, mounted.split(':')[0]!), 'utf8')) as { scrape_configs: { honor_labels: boolean; dns_sd_configs: { names: string[]; port: number }[] }[] };
    expect(promConfig.scrape_configs[0]!.honor_labels).toBe(true);
    expect(promConfig.scrape_configs[0]!.dns_sd_configs[0]!.names.sort()).toEqual(['coordinator-1', 'coordinator-2', 'producer', 'worker']);
    expect(promConfig.scrape_configs[0]!.dns_sd_configs[0]!.port).toBe(9464);

    const grafana = services.grafana!;
    expect(grafana.ports).toEqual(['127.0.0.1:3000:3000']);
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

  it('builds an image that runs the CLI, checked by its own healthcheck', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "bin\/shardflow.mjs"\]/);
    // tsx is needed at run time, so it must not be a devDependency. That the image holds every module
    // the CLI imports is deploy/image-files.test.ts's concern.
    expect(Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: object }).dependencies)).toContain('tsx');
    // The image's healthcheck sends the token and follows the address (deploy/healthcheck.test.ts).
    expect(/^HEALTHCHECK[^\n]*\\\n\s*CMD (.*)$/m.exec(dockerfile)![1]!).toBe('["node", "bin/healthcheck.mjs"]');
  });
});

/** A healthcheck that runs the image's own check, which asks /healthz with the container's token. */
function expectHealthcheckWithToken(test: string[]): void {
  expect(test).toEqual(['CMD', 'node', 'bin/healthcheck.mjs']);
}

describe('docker-compose.yml hardening', () => {
  it('publishes every port on 127.0.0.1 only, and none of a shardflow process', () => {
    const published = Object.entries(services).flatMap(([name, s]) => (s.ports ?? []).map((port) => ({ name, port })));
    // What a user reaches from the host is still there, on loopback.
    expect(published.map((p) => p.name).sort()).toEqual(['grafana', 'mongo', 'nats1', 'prometheus']);
    for (const { name, port } of published) {
      if (typeof port === 'string') expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+(\/(tcp|udp))?$/);
      else expect(port.host_ip, name).toBe('127.0.0.1');
    }
    // Host networking would publish everything the container listens on.
    for (const [name, s] of Object.entries(services)) expect(s.network_mode, name).toBeUndefined();
    for (const name of SHARDFLOW_SERVICES) expect(services[name]!.ports, name).toBeUndefined();
    // NATS monitoring serves the healthchecks inside the network only.
    expect(JSON.stringify(published)).not.toContain('8222');
  });

  it('runs MongoDB with a root user from .env, whom only the workers get, in their sink URL', () => {
    const mongo = services.mongo!.environment!;
    expect(mongo.MONGO_INITDB_ROOT_USERNAME).toBe(env.MONGO_ROOT_USERNAME);
    expect(mongo.MONGO_INITDB_ROOT_PASSWORD).toBe(env.MONGO_ROOT_PASSWORD);
    const url = new URL((serviceConfig('worker').SINK as { url: string }).url);
    expect([url.protocol, url.host, url.username, url.password]).toEqual(['mongodb:', 'mongo:27017', env.MONGO_ROOT_USERNAME, env.MONGO_ROOT_PASSWORD]);
    expect(url.searchParams.get('authSource')).toBe('admin');
    for (const name of SHARDFLOW_SERVICES.filter((n) => n !== 'worker')) expect(JSON.stringify(services[name]!.environment), name).not.toContain(env.MONGO_ROOT_PASSWORD);
  });

  it('lets each shardflow service into NATS as the user of its role, with that password only', () => {
    const roleOf: Record<string, string> = { 'coordinator-1': 'coordinator', 'coordinator-2': 'coordinator', worker: 'worker', producer: 'producer' };
    expect(Object.keys(roleOf).sort()).toEqual([...SHARDFLOW_SERVICES].sort());
    const users = deploymentUsers();
    for (const [name, role] of Object.entries(roleOf)) {
      const config = serviceConfig(name);
      const user = users.find((u) => u.user === config.NATS_USER);
      expect(user?.role, name).toBe(role);
      expect(config.NATS_PASSWORD, name).toBe(env[user!.passwordVariable]);
      for (const other of users.filter((u) => u.passwordVariable !== user!.passwordVariable)) expect(JSON.stringify(services[name]!.environment), `${name} holds ${other.passwordVariable}`).not.toContain(env[other.passwordVariable]);
    }
    // Every node gets every password the mounted configuration names, and nothing else.
    const named = [...readFileSync(join(ROOT, 'deploy', 'nats', 'nats-server.conf'), 'utf8').matchAll(/^\s*password: \$([A-Z0-9_]+)$/gm)].map((m) => m[1]!);
    expect(named.sort()).toEqual(users.map((u) => u.passwordVariable).sort());
    for (const n of ['nats1', 'nats2', 'nats3']) expect(services[n]!.environment, n).toEqual(Object.fromEntries(named.map((v) => [v, env[v]])));
  });

  it('keeps Grafana behind a login whose admin password comes from .env', () => {
    const grafana = services.grafana!.environment!;
    expect(grafana.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
    expect(grafana.GF_USERS_ALLOW_SIGN_UP).toBe('false');
    expect(grafana.GF_SECURITY_ADMIN_PASSWORD).toBe(env.GRAFANA_ADMIN_PASSWORD);
  });

  it('opens the metrics of shardflow processes to the compose network with the token from .env', () => {
    for (const name of SHARDFLOW_SERVICES) {
      const config = serviceConfig(name);
      expect(config.METRICS_HOST, name).toBe('0.0.0.0');
      expect(config.METRICS_TOKEN, name).toBe(env.SHARDFLOW_METRICS_TOKEN);
      expectHealthcheckWithToken(services[name]!.healthcheck!.test);
    }
  });

  it('hands Prometheus the same token as a file its scrape configuration reads, which promtool accepts', () => {
    expect(raw.secrets!.metrics_token).toEqual({ environment: 'SHARDFLOW_METRICS_TOKEN' });
    // Compose reads a secret's mode as YAML 1.1 does: 0444 is octal.
    const granted = (parse(composeText, { merge: true, version: '1.1' }) as Compose).services.prometheus!.secrets!.find((s) => typeof s === 'object' && s.source === 'metrics_token');
    if (typeof granted !== 'object') throw new Error('prometheus is not granted the metrics_token secret with a mode');
    // Prometheus runs as nobody and some compose versions write the file as root: others must read it.
    expect((granted.mode ?? 0) & 0o004).not.toBe(0);
    const target = granted.target ?? '/run/secrets/metrics_token';

    const promConfig = parse(readFileSync(join(ROOT, 'deploy', 'prometheus.docker.yml'), 'utf8')) as { scrape_configs: { authorization?: { type?: string; credentials_file?: string } }[] };
    for (const scrape of promConfig.scrape_configs) expect(scrape.authorization).toEqual({ type: 'Bearer', credentials_file: target });
    if (!hasPromtool) return;
    // promtool wants the file to exist: the same configuration, pointed at a temporary one.
    const dir = mkdtempSync(join(tmpdir(), 'shardflow-promcfg-'));
    try {
      writeFileSync(join(dir, 'token'), env.SHARDFLOW_METRICS_TOKEN!);
      for (const scrape of promConfig.scrape_configs) scrape.authorization!.credentials_file = join(dir, 'token');
      writeFileSync(join(dir, 'prometheus.yml'), stringify(promConfig));
      const r = spawnSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('requires every variable of deploy/.env.example, refusing to start with a message that names it', () => {
    const references = variableReferences(composeText);
    // Every variable compose reads is in the example, and the example lists nothing compose ignores.
    expect(new Set(references.map((r) => r.name))).toEqual(new Set(Object.keys(envExample)));
    // No silent default: a missing secret must stop compose, not run without it.
    for (const r of references) expect(`${r.name} ${r.operator}`).toBe(`${r.name} :?`);
    // The example ships no password or token a deployment could start with.
    for (const [key, value] of Object.entries(envExample)) if (/PASSWORD|TOKEN/.test(key)) expect(value, key).toBe('');
    for (const key of Object.keys(envExample)) {
      for (const missing of [{ ...env, [key]: undefined }, { ...env, [key]: '' }]) {
        expect(() => interpolateTree(raw, missing), key).toThrow(MissingVariableError);
        expect(() => interpolateTree(raw, missing), key).toThrow(`required variable ${key} is missing a value: set it in .env (see deploy/.env.example)`);
      }
    }
  });

  it('keeps .env out of git, and the example in it', () => {
    const ignored = (path: string) => spawnSync('git', ['check-ignore', '--quiet', '--no-index', path], { cwd: ROOT }).status === 0;
    expect(ignored('.env')).toBe(true);
    expect(ignored('deploy/.env')).toBe(true);
    expect(ignored('deploy/.env.example')).toBe(false);
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
