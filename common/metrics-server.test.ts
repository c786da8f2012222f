// The metrics server over real HTTP: where it listens, and that with a token every request must carry it.
import { afterEach, describe, expect, it } from 'vitest';
import { isShardflowError } from './errors.ts';
import { startMetricsServer, type MetricsServer } from './metrics-server.ts';

const TOKEN = 'metrics-token-for-the-test';
const started: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

async function start(options: { host?: string; token?: string } = {}): Promise<MetricsServer> {
  const server = await startMetricsServer({ port: 0, host: options.host ?? '127.0.0.1', token: options.token });
  started.push(server);
  return server;
}

function get(server: MetricsServer, path: string, authorization?: string, host = '127.0.0.1'): Promise<Response> {
  return fetch(`http://${host}:${server.port}${path}`, { headers: authorization === undefined ? {} : { authorization } });
}

describe('startMetricsServer', () => {
  it('listens on the host it is given and reports the address and the port it took', async () => {
    const server = await start({ host: '127.0.0.1' });
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    expect((await get(server, '/healthz')).status).toBe(200);
  });

  // Linux routes all of 127.0.0.0/8 to loopback, so a second local address shows the bind is not 0.0.0.0.
  it.skipIf(process.platform !== 'linux')('is not reachable on an address other than its host', async () => {
    const server = await start({ host: '127.0.0.2' });
    expect(server.host).toBe('127.0.0.2');
    expect((await get(server, '/healthz', undefined, '127.0.0.2')).status).toBe(200);
    await expect(get(server, '/healthz', undefined, '127.0.0.1')).rejects.toThrow();
  });

  it('serves /metrics and /healthz to anyone when no token is set', async () => {
    const server = await start();
    const metrics = await get(server, '/metrics');
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^# HELP shardflow_/m);
    expect((await get(server, '/healthz')).status).toBe(200);
    expect((await get(server, '/nothing-here')).status).toBe(404);
  });

  it('answers 401 with a Bearer challenge to requests without the token, or with a wrong one', async () => {
    const server = await start({ token: TOKEN });
    for (const path of ['/metrics', '/healthz', '/nothing-here']) {
      for (const authorization of [undefined, `Bearer ${TOKEN.slice(0, -1)}x`, `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN]) {
        const res = await get(server, path, authorization);
        expect(res.status, `${path} with ${authorization}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
        // Nothing of the token or the metrics leaks into a refusal.
        expect(await res.text()).toBe('');
      }
    }
  });

  it('serves /metrics and /healthz to requests with the right token', async () => {
    const server = await start({ token: TOKEN });
    const metrics = await get(server, '/metrics', `Bearer ${TOKEN}`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await metrics.text()).toMatch(/^# HELP shardflow_/m);
    const health = await get(server, '/healthz', `Bearer ${TOKEN}`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok');
    expect((await get(server, '/nothing-here', `Bearer ${TOKEN}`)).status).toBe(404);
  });

  it('refuses an address it cannot listen on with advice on the setting to change', async () => {
    const taken = await start();
    const err: unknown = await startMetricsServer({ port: taken.port, host: '127.0.0.1' }).catch((e: unknown) => e);
    expect(isShardflowError(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/EADDRINUSE.*SHARDFLOW_METRICS_HOST.*SHARDFLOW_METRICS_PORT/);
  });
});
