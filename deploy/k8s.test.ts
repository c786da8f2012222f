// deploy/k8s, offline: the kustomization renders (by deploy/kustomize-render.ts, and by `kubectl
// kustomize` where kubectl exists, which must agree), every object validates against the Kubernetes,
// Prometheus Operator and KEDA schemas and types, and the objects say what a deployment relies on:
// coordinators that a drain cannot take both of, workers that drain on preStop within their grace
// period, probes that pass with the metrics token, credentials from Secrets only, each role with its
// own NATS user, a PodMonitor that scrapes every pod, KEDA scaling the workers on their lag. The NATS
// Helm values are the rendered ones, and their users work on a real nats-server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../common/config.ts';
import { RELEASE_TIMEOUT_MS } from '../common/timing.ts';
import { findNatsServerBinary, freePort } from '../cluster/nats-server.ts';
import { getJob } from '../jobs/catalog.ts';
import { refusal, ROOT, waitFor } from '../test/cluster-harness.ts';
import { readDockerfile } from './image-files.ts';
import { schemaProblems, typeProblems } from './kube-validate.ts';
import { podContainers, renderKustomization, type KubeObject } from './kustomize-render.ts';
import { HELM_VALUES_FILE, helmValues, NATS_SERVICE, NATS_USERS_SECRET, renderHelmValues, type HelmValues } from './nats/helm-values.ts';
import { DEPLOYMENT, deploymentUsers } from './nats/render.ts';

const K8S = join(ROOT, 'deploy', 'k8s');
const objects = renderKustomization(K8S);
const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { exec?: { command: string[] } };
  livenessProbe?: { exec?: { command: string[] } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
}
interface Workload extends KubeObject {
  spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: { terminationGracePeriodSeconds?: number; securityContext?: { runAsNonRoot?: boolean; seccompProfile?: { type: string } }; containers: Container[] } } };
}

function find<T extends KubeObject>(kind: string, name: string): T {
  const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!object) throw new Error(`no ${kind} ${name} in deploy/k8s`);
  return object as T;
}

const coordinator = find<Workload>('Deployment', 'shardflow-coordinator');
const worker = find<Workload>('Deployment', 'shardflow-worker');
const workloads = [coordinator, worker];
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The settings a container's process loads, through the one config schema (Secrets and fields filled in). */
function containerConfig(container: Container) {
  const env = Object.fromEntries(
    (container.env ?? [])
      .filter((e) => e.name.startsWith('SHARDFLOW_'))
      .filter((e) => !e.valueFrom?.secretKeyRef?.optional)
      .map((e) => [e.name, e.value ?? (e.valueFrom?.secretKeyRef ? `secret-${e.valueFrom.secretKeyRef.key}-0123456789` : 'shardflow-pod-0')]),
  );
  return loadConfig(env);
}

describe('deploy/k8s', () => {
  it('renders the same objects here as with kubectl kustomize', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/shardflow-grafana-dashboard',
      'Deployment/shardflow-coordinator',
      'Deployment/shardflow-worker',
      'Namespace/shardflow',
      'NetworkPolicy/nats',
      'PodDisruptionBudget/shardflow-coordinator',
      'PodMonitor/shardflow',
      'ScaledObject/shardflow-worker',
    ]);
    for (const o of objects.filter((o) => o.kind !== 'Namespace')) expect(o.metadata.namespace, o.metadata.name).toBe('shardflow');
    if (!hasKubectl) return;
    const r = spawnSync('kubectl', ['kustomize', K8S], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const byKubectl = parseAllDocuments(r.stdout).map((d) => d.toJS() as KubeObject);
    const key = (o: KubeObject) => `${o.kind}/${o.metadata.name}`;
    expect(Object.fromEntries(byKubectl.map((o) => [key(o), o]))).toEqual(Object.fromEntries(objects.map((o) => [key(o), o])));
  });

  it('validates every object against the Kubernetes, Prometheus Operator and KEDA schemas', () => {
    expect(schemaProblems(objects)).toEqual([]);
  });

  it('has no field its kind does not know (the packages\' TypeScript types)', () => {
    const scratch = join(ROOT, 'node_modules', '.cache');
    mkdirSync(scratch, { recursive: true });
    expect(typeProblems(objects, scratch)).toEqual([]);
    // And the check sees a misspelt field, and a wrong type.
    const broken = structuredClone(worker) as Workload & { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    broken.spec.template.spec.containers[0]!.readinesProbe = broken.spec.template.spec.containers[0]!.readinessProbe;
    const problems = typeProblems([broken, { ...find('PodDisruptionBudget', 'shardflow-coordinator'), spec: { minAvailable: true } }], scratch);
    expect(problems.join('\n')).toMatch(/Deployment shardflow-worker: .*readinesProbe.* does not exist in type 'IContainer'/);
    expect(problems.join('\n')).toMatch(/PodDisruptionBudget shardflow-coordinator: /);
    expect(schemaProblems([{ ...coordinator, spec: { ...coordinator.spec, replicas: 'two' } } as KubeObject])).toEqual([expect.stringMatching(/replicas must be integer/)]);
  });

  it('runs two coordinators that a voluntary disruption cannot take both of', () => {
    expect(coordinator.spec.replicas).toBe(2);
    expect(coordinator.spec.template.spec.containers[0]!.args).toEqual(['coordinator']);
    const pdb = find<KubeObject & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget', 'shardflow-coordinator');
    expect(pdb.spec.minAvailable).toBe(1);
    expect(matches(pdb.spec.selector.matchLabels, coordinator.spec.template.metadata.labels)).toBe(true);
    expect(matches(pdb.spec.selector.matchLabels, worker.spec.template.metadata.labels)).toBe(false);
  });

  it('drains a worker on preStop with SIGTERM, within a grace period that covers the final checkpoints', () => {
    const [container] = worker.spec.template.spec.containers;
    const preStop = container!.lifecycle!.preStop!.exec!.command;
    expect(preStop.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    // SIGTERM to the worker (PID 1: the image's ENTRYPOINT is node itself), then wait for it to exit.
    expect(preStop[2]).toMatch(/^kill -TERM 1; while kill -0 1 /);
    expect(readFileSync(join(ROOT, 'cli', 'commands', 'worker.ts'), 'utf8')).toMatch(/process\.once\('SIGTERM'[\s\S]*worker\.shutdown\(\)/);
    // Every partition's release may take RELEASE_TIMEOUT_MS, then sinks close and the publisher flushes.
    expect(worker.spec.template.spec.terminationGracePeriodSeconds! * 1000).toBeGreaterThanOrEqual(RELEASE_TIMEOUT_MS * 2);
  });

  it('probes /healthz with the image\'s healthcheck, which sends the token', () => {
    const dockerfile = readDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    for (const w of workloads) {
      const [container] = w.spec.template.spec.containers;
      for (const probe of [container!.readinessProbe, container!.livenessProbe]) {
        const command = probe!.exec!.command;
        expect(command[0]).toBe('node');
        // The same script as the image's own HEALTHCHECK, by its absolute path in the image.
        expect(dockerfile.scripts.filter((script) => script.endsWith('/healthcheck.mjs'))).toEqual([command[1]]);
      }
      const config = containerConfig(container!);
      expect(config.METRICS_HOST, w.metadata.name).toBe('0.0.0.0');
      expect(config.METRICS_PORT).toBe(container!.ports!.find((p) => p.name === 'metrics')!.containerPort);
      expect(config.METRICS_TOKEN).toBeDefined();
    }
  });

  it('gives each role its own NATS user and password, from Secrets only, and settings the config accepts', () => {
    const users = deploymentUsers();
    const roleOf: Record<string, string> = { 'shardflow-coordinator': 'coordinator', 'shardflow-worker': 'worker' };
    for (const w of workloads) {
      const [container] = w.spec.template.spec.containers;
      expect(container!.image).toBe('shardflow:0.1.0');
      const config = containerConfig(container!);
      expect(config.NATS_URL).toBe(`nats://${NATS_SERVICE}:4222`);
      expect(config.REPLICAS).toBe(3);
      const user = users.find((u) => u.user === config.NATS_USER)!;
      expect(user.role, w.metadata.name).toBe(roleOf[w.metadata.name]);
      const env = container!.env!;
      expect(env.find((e) => e.name === 'SHARDFLOW_NATS_PASSWORD')!.valueFrom!.secretKeyRef).toEqual({ name: NATS_USERS_SECRET, key: user.passwordVariable });
      for (const e of env) {
        // No secret written into a manifest: passwords, tokens and sink specs come from a Secret.
        if (/PASSWORD|TOKEN|SINK/.test(e.name)) expect(e.value, e.name).toBeUndefined();
        const ref = e.valueFrom?.secretKeyRef;
        if (ref?.name === NATS_USERS_SECRET) expect(ref.key, `${w.metadata.name} holds only its role's password`).toBe(user.passwordVariable);
        if (ref) expect(['shardflow-nats-users', 'shardflow-metrics', 'shardflow-sink']).toContain(ref.name);
      }
      // The restricted Pod Security profile.
      const pod = w.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(container!.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    }
    expect(worker.spec.template.spec.containers[0]!.args).toEqual(['worker', '--job', 'station-sentiment']);
  });

  it('scrapes every shardflow pod with the metrics token, labelled as the dashboard groups', () => {
    const monitor = find<KubeObject & { spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string; path: string; honorLabels: boolean; authorization: unknown; relabelings: { targetLabel: string }[] }[] } }>('PodMonitor', 'shardflow');
    const [endpoint] = monitor.spec.podMetricsEndpoints;
    for (const w of workloads) {
      expect(matches(monitor.spec.selector.matchLabels, w.spec.template.metadata.labels), w.metadata.name).toBe(true);
      expect(w.spec.template.spec.containers[0]!.ports!.map((p) => p.name)).toContain(endpoint!.port);
    }
    expect(endpoint).toMatchObject({ path: '/metrics', honorLabels: true, authorization: { type: 'Bearer', credentials: { name: 'shardflow-metrics', key: 'token' } } });
    expect(endpoint!.relabelings.map((r) => r.targetLabel).sort()).toEqual(['id', 'role']);
  });

  it('ships the Grafana dashboard of deploy/grafana as a ConfigMap for the dashboard sidecar', () => {
    const map = find<KubeObject & { data: Record<string, string> }>('ConfigMap', 'shardflow-grafana-dashboard');
    expect(map.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(map.data['shardflow.json'], 'deploy/k8s/grafana/shardflow.json is a copy of deploy/grafana/dashboards/shardflow.json').toBe(readFileSync(join(ROOT, 'deploy', 'grafana', 'dashboards', 'shardflow.json'), 'utf8'));
  });

  it('scales the workers with KEDA on the consumer lag of the job they run, up to one worker per partition', () => {
    const scaled = find<KubeObject & { spec: { scaleTargetRef: { name: string; kind?: string }; minReplicaCount: number; maxReplicaCount: number; triggers: { type: string; metadata: Record<string, string> }[] } }>('ScaledObject', 'shardflow-worker');
    expect(scaled.spec.scaleTargetRef.name).toBe(worker.metadata.name);
    expect(scaled.spec.scaleTargetRef.kind ?? 'Deployment').toBe('Deployment');
    const job = worker.spec.template.spec.containers[0]!.args![2]!;
    expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(2);
    expect(scaled.spec.maxReplicaCount).toBe(getJob(job).partitions);
    const [trigger] = scaled.spec.triggers;
    expect(trigger!.type).toBe('prometheus');
    expect(trigger!.metadata.query).toBe(`sum(shardflow_consumer_lag_messages{job="${job}"})`);
    expect(Number(trigger!.metadata.threshold)).toBeGreaterThan(0);
    if (!hasPromtool) return;
    const dir = mkdtempSync(join(tmpdir(), 'shardflow-keda-'));
    try {
      writeFileSync(join(dir, 'rules.yml'), `groups:\n  - name: keda\n    rules:\n      - record: worker_lag\n        expr: ${JSON.stringify(trigger!.metadata.query)}\n`);
      const r = spawnSync('promtool', ['check', 'rules', join(dir, 'rules.yml')], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/k8s/nats-network-policy.yaml', () => {
  it('lets only the NATS nodes reach their unauthenticated route port, and clients the client port', () => {
    const policy = find<KubeObject & { spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: { ports: { port: number }[]; from?: { podSelector: { matchLabels: Record<string, string> } }[] }[] } }>('NetworkPolicy', 'nats');
    // The selector labels the chart gives its server pods (nats.selectorLabels) for the release `nats`.
    const natsPods = { 'app.kubernetes.io/name': 'nats', 'app.kubernetes.io/instance': NATS_SERVICE, 'app.kubernetes.io/component': 'nats' };
    expect(policy.spec.podSelector.matchLabels).toEqual(natsPods);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    const rule = (port: number) => policy.spec.ingress.filter((r) => r.ports.some((p) => p.port === port));
    expect(rule(6222)).toHaveLength(1);
    expect(rule(6222)[0]!.from!.map((f) => f.podSelector.matchLabels)).toEqual([natsPods]);
    expect(rule(4222)).toHaveLength(1);
    expect(rule(4222)[0]!.from).toBeUndefined();
    expect(rule(8222)).toEqual([]);
    // shardflow's pods are not NATS pods: the route port stays closed to them.
    for (const w of workloads) expect(matches(natsPods, w.spec.template.metadata.labels)).toBe(false);
  });
});

describe('deploy/k8s/nats/values.yaml (the NATS Helm chart)', () => {
  const values = parse(readFileSync(HELM_VALUES_FILE, 'utf8')) as HelmValues;

  it('is what deploy/nats/render.ts renders from the roles (run it after changing them)', () => {
    expect(readFileSync(HELM_VALUES_FILE, 'utf8')).toBe(renderHelmValues(DEPLOYMENT.jobs));
  });

  it('runs 3 nodes with JetStream on volumes, and takes every password it names from the Secret', () => {
    expect(values.fullnameOverride).toBe(NATS_SERVICE);
    expect(values.config.cluster).toEqual({ enabled: true, replicas: 3 });
    expect(values.config.jetstream.enabled).toBe(true);
    expect(values.config.jetstream.fileStore.pvc.size).toMatch(/^\d+Gi$/);
    const named = values.config.merge.authorization.users.map((u) => /^<< \$([A-Z0-9_]+) >>$/.exec(u.password)?.[1]);
    expect(named.every((n) => n !== undefined)).toBe(true);
    expect(Object.keys(values.container.env).sort()).toEqual([...named].sort());
    for (const [name, env] of Object.entries(values.container.env)) expect(env.valueFrom.secretKeyRef).toEqual({ name: NATS_USERS_SECRET, key: name });
    expect(values.config.merge.authorization.users.map((u) => u.user)).toEqual(deploymentUsers().map((u) => u.user));
  });

  it('gives a nats-server, configured as the chart writes it, users whose passwords come from the environment', async () => {
    // The chart writes config.merge as JSON and unquotes `"<< ... >>"` (nats.formatConfig).
    const rendered = helmValues(DEPLOYMENT.jobs).config;
    const authorization = JSON.stringify(rendered.merge.authorization, null, 2).replace(/"<<\s+(.*)\s+>>"/g, '$1');
    // And its JetStream limits, unquoted (files/config/jetstream.yaml of the chart).
    const limits = `max_memory_store: ${rendered.jetstream.memoryStore.maxSize}, max_file_store: ${rendered.jetstream.fileStore.maxSize}`;
    const dir = mkdtempSync(join(tmpdir(), 'shardflow-helm-nats-'));
    const port = await freePort();
    const passwords = Object.fromEntries(deploymentUsers().map((u) => [u.passwordVariable, `n${randomBytes(12).toString('hex')}`]));
    let server: ChildProcess | undefined;
    try {
      writeFileSync(join(dir, 'nats.conf'), `listen: "127.0.0.1:${port}"\nserver_name: helm-values-test\njetstream { store_dir: "${join(dir, 'js')}", ${limits} }\nauthorization: ${authorization}\n`);
      server = spawn(findNatsServerBinary(), ['-c', join(dir, 'nats.conf')], { env: { ...process.env, ...passwords }, stdio: 'ignore' });
      const servers = `127.0.0.1:${port}`;
      let nc: Awaited<ReturnType<typeof connect>> | undefined;
      await waitFor(async () => {
        nc = await connect({ servers, user: 'worker', pass: passwords.NATS_WORKER_PASSWORD!, reconnect: false }).catch(() => undefined);
        return nc !== undefined;
      }, 20_000, 'the worker user to connect');
      await nc!.close();
      // The variable's name is not the password: it was substituted, not taken literally.
      expect(await refusal(() => connect({ servers, user: 'worker', pass: '$NATS_WORKER_PASSWORD', reconnect: false }))).toMatch(/Authorization Violation/i);
      expect(await refusal(() => connect({ servers, reconnect: false }))).toMatch(/Authorization Violation/i);
    } finally {
      server?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
