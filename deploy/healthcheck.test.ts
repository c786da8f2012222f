// bin/healthcheck.mjs, the healthcheck of the image, of docker-compose.yml and the probes of
// deploy/k8s, against the real metrics server of a shardflow process: healthy only when /healthz
// answers at the configured address with the configured token.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMetricsServer, type MetricsServer } from '../common/metrics-server.ts';
import { freePort } from '../cluster/nats-server.ts';
import { ROOT } from '../test/cluster-harness.ts';

const token = randomBytes(16).toString('hex');
let loopback: MetricsServer;
let everywhere: MetricsServer;

/** The healthcheck with only these settings in its environment, as in a container. Asynchronous: the
 *  servers it asks run in this process. */
function healthcheck(settings: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin', 'healthcheck.mjs')], { env: { PATH: process.env.PATH ?? '', ...settings }, encoding: 'utf8', timeout: 20_000 }, (err, _stdout, stderr) => {
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stderr });
    });
  });
}

beforeAll(async () => {
  loopback = await startMetricsServer({ host: '127.0.0.1', port: 0, token });
  everywhere = await startMetricsServer({ host: '0.0.0.0', port: 0, token });
});

afterAll(async () => {
  await loopback?.close();
  await everywhere?.close();
});

describe('bin/healthcheck.mjs', () => {
  it('passes when the process answers at its address with the token it wants', async () => {
    expect(await healthcheck({ SHARDFLOW_METRICS_HOST: '127.0.0.1', SHARDFLOW_METRICS_PORT: String(loopback.port), SHARDFLOW_METRICS_TOKEN: token })).toEqual({ status: 0, stderr: '' });
    // Unset host: the process's default, loopback.
    expect((await healthcheck({ SHARDFLOW_METRICS_PORT: String(loopback.port), SHARDFLOW_METRICS_TOKEN: token })).status).toBe(0);
  });

  it('reaches a process listening on every address (compose, Kubernetes) through loopback', async () => {
    expect((await healthcheck({ SHARDFLOW_METRICS_HOST: '0.0.0.0', SHARDFLOW_METRICS_PORT: String(everywhere.port), SHARDFLOW_METRICS_TOKEN: token })).status).toBe(0);
  });

  it('fails, saying why, without the right token', async () => {
    const wrong = await healthcheck({ SHARDFLOW_METRICS_PORT: String(loopback.port), SHARDFLOW_METRICS_TOKEN: randomBytes(16).toString('hex') });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain('answered 401');
    expect((await healthcheck({ SHARDFLOW_METRICS_PORT: String(loopback.port) })).status).toBe(1);
  });

  it('fails when nothing answers, or no fixed port is set', async () => {
    const nothing = await healthcheck({ SHARDFLOW_METRICS_PORT: String(await freePort()), SHARDFLOW_METRICS_TOKEN: token });
    expect(nothing.status).toBe(1);
    expect(nothing.stderr).toMatch(/ECONNREFUSED/);
    const free = await healthcheck({ SHARDFLOW_METRICS_PORT: '0' });
    expect(free.status).toBe(1);
    expect(free.stderr).toContain('is not a fixed port');
  });
});
