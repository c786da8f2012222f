#!/usr/bin/env node
// The container healthcheck of every shardflow role (the Dockerfile's HEALTHCHECK, docker-compose.yml,
// the probes of deploy/k8s): exit 0 when this container's process answers GET /healthz, else 1 with
// the reason on stderr. Plain JavaScript on purpose: it runs every few seconds, and loading the
// TypeScript sources through tsx would cost a second of CPU each time. It reads the three settings
// common/config.ts documents, from the same environment, the way the metrics server applies them.
const env = process.env;
const port = Number(env.SHARDFLOW_METRICS_PORT ?? '9464');
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write(`healthcheck: SHARDFLOW_METRICS_PORT=${env.SHARDFLOW_METRICS_PORT} is not a fixed port: set one (the image sets 9464)\n`);
  process.exit(1);
}
// A server listening on every address answers on loopback; one bound to an address answers there only.
const bound = env.SHARDFLOW_METRICS_HOST ?? '127.0.0.1';
const host = bound === '0.0.0.0' ? '127.0.0.1' : bound === '::' ? '::1' : bound;
const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`;
const token = env.SHARDFLOW_METRICS_TOKEN;
try {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(2_500) });
  if (!res.ok) {
    process.stderr.write(`healthcheck: ${url} answered ${res.status}${res.status === 401 ? ' (SHARDFLOW_METRICS_TOKEN differs from the process\'s)' : ''}\n`);
    process.exit(1);
  }
} catch (err) {
  process.stderr.write(`healthcheck: ${url}: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}\n`);
  process.exit(1);
}
