// Serves the process's metrics at /metrics (Prometheus text format) and a liveness check at /healthz.
// It listens on loopback unless told otherwise; given a token, it answers only requests that carry it,
// /healthz included, since both tell a stranger which processes, jobs and partitions run here.
import { createServer, type Server } from 'node:http';
import { bearerTokenCheck } from './bearer-token.ts';
import { ShardflowError } from './errors.ts';
import { registry } from './metrics.ts';

export interface MetricsServerOptions {
  /** Port to listen on; 0 picks a free one (the returned `port` says which). */
  port: number;
  /** Address to listen on: 127.0.0.1 keeps it to this machine, 0.0.0.0 opens it to the network. */
  host: string;
  /** Bearer token every request must carry; without one the endpoints are open to whoever reaches them. */
  token?: string | undefined;
}

export interface MetricsServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const authorized = options.token === undefined ? () => true : bearerTokenCheck(options.token);
  const server: Server = createServer((req, res) => {
    if (!authorized(req.headers.authorization)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="shardflow"' });
      res.end();
    } else if (req.url === '/metrics') {
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        })
        .catch((err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        });
    } else if (req.url === '/healthz') {
      res.writeHead(200);
      res.end('ok');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new ShardflowError(
          'CONFIG_INVALID',
          `cannot serve metrics on ${options.host}:${options.port} (${err.code ?? err.message}): set SHARDFLOW_METRICS_HOST to an address of this machine and SHARDFLOW_METRICS_PORT to a free port (0 picks one)`,
          { cause: err },
        ),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  return {
    host: typeof address === 'object' && address ? address.address : options.host,
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
