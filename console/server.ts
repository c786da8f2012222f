// The console's HTTP server: the pages (static files, uPlot from node_modules: no CDN), a JSON API
// under /api that backs every page, and /api/events, a server-sent-events stream of changes (status
// refreshed, timeline events, results changed). Reading needs nothing; actions need the bearer token
// (SHARDFLOW_CONSOLE_TOKEN) and are refused when none is set. Content-Security-Policy allows scripts
// from this origin only, and payloads are sent as JSON text that pages show as text, never as HTML.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { bearerTokenCheck } from '../common/bearer-token.ts';
import type { Config } from '../common/config.ts';
import { isShardflowError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { deadLetterStream, JOB_NAME_PATTERN, lateStream } from '../common/names.ts';
import { ConsoleActions, MAX_REPLAY, type ConsoleAction } from './actions.ts';
import { chaosReportHtml, listChaosRuns } from './chaos-runs.ts';
import type { ClusterView, ViewNotice } from './cluster-view.ts';
import { readSideEntry } from './side-outputs.ts';

const PUBLIC = join(import.meta.dirname, 'public');
const UPLOT = dirname(createRequire(import.meta.url).resolve('uplot'));

/** Most SSE connections at once: each holds a socket and a listener. */
export const MAX_EVENT_STREAMS = 64;

const jobParam = z.object({ job: z.string().regex(JOB_NAME_PATTERN) });

export interface ConsoleServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startConsoleServer(view: ClusterView, config: Config, log: Logger): Promise<ConsoleServer> {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, forceCloseConnections: true });
  const isAdmin = config.CONSOLE_TOKEN ? bearerTokenCheck(config.CONSOLE_TOKEN) : () => false;
  const actions = new ConsoleActions(view.nc, view, config.REPLICAS, log);
  let streams = 0;

  app.addHook('onSend', async (_req, reply) => {
    reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });
  app.setErrorHandler((err, _req, reply) => {
    const status = isShardflowError(err) ? (err.code === 'PROCESS_UNAVAILABLE' ? 503 : err.code === 'JOB_UNKNOWN' ? 404 : 400) : err instanceof z.ZodError ? 400 : ((err as { statusCode?: number }).statusCode ?? 500);
    const message = err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') : (err as Error).message;
    if (status >= 500) log.warn({ err: message }, 'console request failed');
    void reply.code(status).send({ error: message });
  });

  await app.register(fastifyStatic, { root: PUBLIC, prefix: '/', index: ['index.html'] });
  await app.register(fastifyStatic, { root: UPLOT, prefix: '/vendor/uplot/', decorateReply: false });

  const reading = () => {
    const r = view.current;
    if (!r) throw Object.assign(new Error('the cluster has not been read yet; try again in a second'), { statusCode: 503 });
    return r;
  };
  const sideCounts = (job: string) => {
    const side = view.sideOutputs(job);
    return { dead_letters: side?.dead.byReason() ?? {}, late: side?.late.byReason() ?? {} };
  };

  app.get('/api/health', async () => ({ ok: true }));
  app.get('/api/whoami', async (req) => ({ admin: isAdmin(req.headers.authorization), actions: config.CONSOLE_TOKEN !== undefined }));

  /** The same shape as `shardflow status --json`, without storage (see /api/streams). */
  app.get('/api/status', async () => reading().status);

  app.get('/api/cluster', async () => {
    const { at, status, rates } = reading();
    return {
      at,
      leader: status.leader,
      assignment: status.assignment,
      coordinators: status.coordinators,
      workers: status.workers.map((w) => ({ ...w, events_per_sec: round(rates.workers.get(w.id) ?? 0) })),
      timeline: view.timeline.list().slice(-200),
    };
  });

  app.get('/api/jobs', async () => {
    const { status, rates } = reading();
    return status.jobs.map((j) => {
      const parts = status.partitions.filter((p) => p.job === j.name);
      return { ...j, events_per_sec: round(rates.jobs.get(j.name) ?? 0), lag: parts.reduce((n, p) => n + (p.lag ?? 0), 0), owned: parts.filter((p) => p.owner).length, ...sideCounts(j.name) };
    });
  });

  app.get('/api/jobs/:job', async (req) => {
    const { job } = jobParam.parse(req.params);
    const { at, status, rates } = reading();
    const record = status.jobs.find((j) => j.name === job);
    if (!record) throw Object.assign(new Error(`no job ${job} is registered in this cluster`), { statusCode: 404 });
    const partitions = status.partitions
      .filter((p) => p.job === job)
      .map((p) => ({
        ...p,
        events_per_sec: round(rates.partitions.get(`${p.job}/${p.partition}`) ?? 0),
        watermark_delay_ms: p.watermark === null ? null : at - p.watermark,
        checkpoint_age_ms: p.checkpoint_at === null ? null : at - p.checkpoint_at,
      }));
    return { job: record, at, partitions, sources: status.sources.filter((x) => x.job === job), series: view.series.of(job), ...sideCounts(job) };
  });

  app.get('/api/jobs/:job/results', async (req) => {
    const { job } = jobParam.parse(req.params);
    const { limit } = z.object({ limit: z.coerce.number().int().min(1).max(5_000).default(1_000) }).parse(req.query);
    return view.results.rows(job, limit);
  });

  const sideQuery = z.object({ kind: z.enum(['dead-letters', 'late']).default('dead-letters'), reason: z.string().max(100).optional(), limit: z.coerce.number().int().min(1).max(2_000).default(200) });
  app.get('/api/jobs/:job/dead-letters', async (req) => {
    const { job } = jobParam.parse(req.params);
    const q = sideQuery.parse(req.query);
    const side = view.sideOutputs(job);
    const index = q.kind === 'late' ? side?.late : side?.dead;
    return { job, kind: q.kind, counts: index?.byReason() ?? {}, entries: index?.latest({ limit: q.limit, ...(q.reason ? { reason: q.reason } : {}) }) ?? [] };
  });

  app.get('/api/jobs/:job/dead-letters/:seq', async (req) => {
    const { job, seq } = jobParam.extend({ seq: z.coerce.number().int().min(1) }).parse(req.params);
    const { kind } = sideQuery.pick({ kind: true }).parse(req.query);
    const entry = await readSideEntry(view.jsm, kind === 'late' ? lateStream(job) : deadLetterStream(job), seq);
    if (!entry) throw Object.assign(new Error(`no message ${seq} in the ${kind} of ${job}`), { statusCode: 404 });
    return entry;
  });

  app.get('/api/streams', async () => view.streamList);
  app.get('/api/chaos', async () => listChaosRuns(config.DATA_DIR));
  app.get('/api/chaos/:id/report.html', async (req, reply) => {
    const { id } = z.object({ id: z.string() }).parse(req.params);
    const html = chaosReportHtml(config.DATA_DIR, id);
    if (html === undefined) return reply.code(404).send({ error: `no chaos report ${id}` });
    // The report is a page of its own: no script, shown in a sandbox.
    return reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox").type('text/html; charset=utf-8').send(html);
  });

  // Actions: the token, then the body, then the action.
  const admin = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!config.CONSOLE_TOKEN) return reply.code(403).send({ error: 'this console is read-only: start it with SHARDFLOW_CONSOLE_TOKEN set to allow actions' });
    if (!isAdmin(req.headers.authorization)) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'actions need the admin token (Authorization: Bearer <SHARDFLOW_CONSOLE_TOKEN>)' });
  };
  const requester = (req: FastifyRequest) => ({ name: String(req.headers['x-shardflow-user'] ?? 'admin').replace(/[^\w .@-]/g, '').slice(0, 40) || 'admin', ip: req.ip });
  const act = (parse: (req: FastifyRequest) => ConsoleAction) => async (req: FastifyRequest) => actions.run(parse(req), requester(req));

  app.post('/api/actions/scale', { preHandler: admin }, act((req) => ({ type: 'scale', ...z.object({ workers: z.number().int().min(1).max(64) }).parse(req.body) })));
  app.post('/api/actions/drain', { preHandler: admin }, act((req) => ({ type: 'drain', ...z.object({ worker: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) }).parse(req.body) })));
  app.post(
    '/api/actions/kill',
    { preHandler: admin },
    act((req) => ({ type: 'kill', ...z.object({ target: z.enum(['worker', 'coordinator', 'leader']), id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional() }).parse(req.body) })),
  );
  app.post('/api/jobs/:job/pause', { preHandler: admin }, act((req) => ({ type: 'pause', ...jobParam.parse(req.params) })));
  app.post('/api/jobs/:job/resume', { preHandler: admin }, act((req) => ({ type: 'resume', ...jobParam.parse(req.params) })));
  app.post(
    '/api/jobs/:job/dead-letters/replay',
    { preHandler: admin },
    act((req) => ({ type: 'replay', ...jobParam.parse(req.params), ...z.object({ seqs: z.array(z.number().int().min(1)).min(1).max(MAX_REPLAY) }).parse(req.body) })),
  );

  app.get('/api/events', (req, reply) => {
    if (streams >= MAX_EVENT_STREAMS) return reply.code(503).send({ error: `too many live pages open (at most ${MAX_EVENT_STREAMS})` });
    streams++;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff' });
    const send = (n: ViewNotice) => res.write(`event: ${n.type}\ndata: ${JSON.stringify(n)}\n\n`);
    const unsubscribe = view.subscribe(send);
    // Proxies close quiet connections; a comment line keeps it open.
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(keepAlive);
      unsubscribe();
      streams--;
    });
    send({ type: 'status', at: view.current?.at ?? Date.now() });
  });

  const address = await app.listen({ port: config.CONSOLE_PORT, host: config.CONSOLE_HOST });
  return {
    app,
    url: address,
    close: async () => {
      await app.close();
    },
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
