// What an admin may do from the console: scale, drain a worker, kill a process (of a local cluster,
// through the `shardflow up` that runs it), pause and resume a job (the leader assigns its partitions
// to nobody), and replay dead letters into the job's ingest subject. Each is logged and put in the
// timeline with who asked.
import type { NatsConnection } from '@nats-io/transport-node';
import { ShardflowError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { COORDINATION_BUCKET, deadLetterStream, ingestSubject, LOCAL_CONTROL_SUBJECT } from '../common/names.ts';
import type { LocalControlReply, LocalControlRequest } from '../cluster/local-control.ts';
import { readJob, setPaused } from '../coordinator/job-registry.ts';
import { openBucket } from '../nats/topology.ts';
import { jetstream } from '@nats-io/jetstream';
import type { ClusterView } from './cluster-view.ts';

/** Who asked: the name the person gave (or "admin") and where the request came from. */
export interface Requester {
  name: string;
  ip: string;
}

export type ConsoleAction =
  | { type: 'scale'; workers: number }
  | { type: 'drain'; worker: string }
  | { type: 'kill'; target: 'worker' | 'coordinator' | 'leader'; id?: string }
  | { type: 'pause' | 'resume'; job: string }
  | { type: 'replay'; job: string; seqs: number[] };

/** At most this many dead letters replayed by one request. */
export const MAX_REPLAY = 1_000;

export class ConsoleActions {
  constructor(
    private readonly nc: NatsConnection,
    private readonly view: ClusterView,
    private readonly replicas: number,
    private readonly log: Logger,
  ) {}

  async run(action: ConsoleAction, by: Requester): Promise<{ ok: true; result: unknown }> {
    const who = `${by.name} (${by.ip})`;
    this.log.info({ action, by: by.name, ip: by.ip }, 'console action');
    const result = await this.perform(action, by);
    this.view.record(`${who}: ${describe(action)}`);
    return { ok: true, result };
  }

  private async perform(action: ConsoleAction, by: Requester): Promise<unknown> {
    switch (action.type) {
      case 'scale':
        return this.local({ op: 'scale', workers: action.workers });
      case 'drain':
        return this.local({ op: 'drain', id: action.worker });
      case 'kill':
        return this.local({ op: 'kill', target: action.target, ...(action.id ? { id: action.id } : {}) });
      case 'pause':
      case 'resume': {
        const kv = await openBucket(this.nc, COORDINATION_BUCKET, this.replicas);
        if (!(await readJob(kv, action.job))) throw new ShardflowError('JOB_UNKNOWN', `no job ${action.job} is registered in this cluster`);
        await setPaused(kv, action.job, action.type === 'pause', by.name);
        return { job: action.job, paused: action.type === 'pause' };
      }
      case 'replay':
        return this.replay(action.job, action.seqs);
    }
  }

  /** A request to the `shardflow up` that runs this cluster. */
  private async local(request: LocalControlRequest): Promise<LocalControlReply> {
    const m = await this.nc.request(LOCAL_CONTROL_SUBJECT, JSON.stringify(request), { timeout: 120_000 }).catch((cause: unknown) => {
      throw new ShardflowError('PROCESS_UNAVAILABLE', `no \`shardflow up\` answers (${(cause as Error).message}): scale, drain and kill drive a local cluster; elsewhere scale with your orchestrator (docker compose --scale, kubectl scale)`, { cause });
    });
    const reply = m.json() as LocalControlReply;
    if (!reply.ok) throw new ShardflowError('CONFIG_INVALID', reply.error);
    return reply;
  }

  /** Publishes the stored payloads of dead letters to the job's ingest subject, as a client would;
   *  a message id per dead letter makes a second click within the duplicate window a no-op. */
  private async replay(job: string, seqs: number[]): Promise<{ replayed: number; skipped: { seq: number; why: string }[] }> {
    if (seqs.length > MAX_REPLAY) throw new ShardflowError('CONFIG_INVALID', `replay at most ${MAX_REPLAY} dead letters at once (got ${seqs.length})`);
    const js = jetstream(this.nc);
    const stream = deadLetterStream(job);
    const skipped: { seq: number; why: string }[] = [];
    let replayed = 0;
    for (const seq of seqs) {
      const m = await this.view.jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (!m) {
        skipped.push({ seq, why: 'no longer stored' });
        continue;
      }
      // `<partition>.r.<digest>`: a result row the sink refused, not an event of the input.
      if (m.subject.split('.')[4] === 'r') {
        skipped.push({ seq, why: 'a result row the sink refused, not an input event' });
        continue;
      }
      await js.publish(ingestSubject(job), m.data, { msgID: `replay-${job}-${seq}` });
      replayed++;
    }
    return { replayed, skipped };
  }
}

function describe(a: ConsoleAction): string {
  switch (a.type) {
    case 'scale':
      return `scaled to ${a.workers} workers`;
    case 'drain':
      return `drained worker ${a.worker}`;
    case 'kill':
      return `killed ${a.id ? `${a.target} ${a.id}` : `a ${a.target}`} (kill -9)`;
    case 'pause':
      return `paused job ${a.job}`;
    case 'resume':
      return `resumed job ${a.job}`;
    case 'replay':
      return `replayed ${a.seqs.length} dead letter${a.seqs.length === 1 ? '' : 's'} of ${a.job}`;
  }
}
