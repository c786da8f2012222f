// The preStop hook of deploy/k8s/worker.yaml, run as Kubernetes runs it: in the container's PID
// namespace, where the worker is PID 1 (the image's ENTRYPOINT is node itself, and PID 1 ignores a
// signal it has no handler for). It must make a real worker checkpoint and release every partition and
// exit on its own, within the pod's grace period.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startTestNats, waitFor, type TestNats } from '../test/cluster-harness.ts';
import { COUNTING } from '../test/fixtures/counting-job.ts';
import { renderKustomization } from './kustomize-render.ts';

const worker = renderKustomization(join(ROOT, 'deploy', 'k8s')).find((o) => o.kind === 'Deployment' && o.metadata.name === 'shardflow-worker') as unknown as {
  spec: { template: { spec: { terminationGracePeriodSeconds: number; containers: { lifecycle: { preStop: { exec: { command: string[] } } } }[] } } };
};
const preStop = worker.spec.template.spec.containers[0]!.lifecycle.preStop.exec.command;
const gracePeriodMs = worker.spec.template.spec.terminationGracePeriodSeconds * 1000;
/** A new PID namespace needs root (CAP_SYS_ADMIN), as the tests run in CI. */
const canUnshare = spawnSync('unshare', ['--pid', '--fork', 'true']).status === 0;

let nats: TestNats;

beforeAll(async () => {
  if (canUnshare) nats = await startTestNats();
});

afterAll(async () => {
  await nats?.close();
});

describe(`the workers' preStop hook${canUnshare ? '' : ' (skipped: `unshare --pid` is refused here; it needs root)'}`, () => {
  it.skipIf(!canUnshare)(
    'drains a worker that is PID 1: every partition checkpointed and released, and an exit of its own within the grace period',
    async () => {
      const child = spawn('unshare', ['--pid', '--fork', '--kill-child', '--', process.execPath, join(ROOT, 'bin', 'shardflow.mjs'), 'worker', '--id', 'drain-w1', '--job', join(ROOT, 'test', 'fixtures', 'counting-job.ts'), '--partitions', 'all'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', SHARDFLOW_NATS_URL: nats.url, SHARDFLOW_METRICS_PORT: '0', SHARDFLOW_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        await waitFor(() => output.includes('"worker ready"') || child.exitCode !== null, 60_000, 'the worker to be ready');
        expect(child.exitCode, output).toBeNull();
        // The worker: unshare's child, PID 1 of its namespace.
        const nodePid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]);
        expect(readFileSync(`/proc/${nodePid}/status`, 'utf8')).toMatch(/^NSpid:\s+\d+\s+1$/m);

        const started = Date.now();
        // As the kubelet does: the hook's command in the container's PID namespace.
        const hook = spawn('nsenter', ['--target', String(nodePid), '--pid', '--', ...preStop], { stdio: 'ignore' });
        const hookDone = new Promise<void>((resolve) => hook.once('exit', () => resolve()));
        const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), gracePeriodMs))]);
        const drainMs = Date.now() - started;
        expect(code, output).toBe(0);
        // The hook returns once the worker is gone (its namespace ends with it).
        await hookDone;
        const stopped = output.split('\n').find((l) => l.includes('"msg":"worker stopped"'));
        expect(output).toContain('"signal":"SIGTERM"');
        expect(JSON.parse(stopped!) as { checkpoints: number }).toMatchObject({ checkpoints: COUNTING.partitions });
        expect(drainMs).toBeLessThan(gracePeriodMs);
        process.stdout.write(`preStop drain of a worker with ${COUNTING.partitions} partitions: ${drainMs} ms (grace period ${gracePeriodMs} ms)\n`);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await exited;
      }
    },
    120_000,
  );
});
