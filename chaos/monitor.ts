// Watches a chaos run from outside the cluster: tails the job's input log, reads every partition's
// checkpoint and the cluster status a few times a second, and turns that into the timeline of the
// report (produced, stored, checkpointed, workers, leader) and the recovery time of each fault.
//
// Recovery of a fault is measured on durable state, not on what processes say about themselves: a
// fault has recovered once the cluster has a leader (a newly elected one if the fault took the
// leader) and every partition has a checkpoint, by an owner, that covers a message stored after the
// fault took effect. A partition whose owner died or froze can only get there once another worker
// (or the restarted one) has taken it over and moved on.
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { readStreamRange, streamBounds, type StreamMessage } from '../batch/stream-range.ts';
import { readInputEntry } from '../common/input-log.ts';
import { CHECKPOINTS_BUCKET, checkpointKey, COORDINATION_BUCKET, inputStream, partitionId } from '../common/names.ts';
import { readLeaderStored } from '../coordinator/protocol.ts';
import type { CheckpointEntry } from '../cluster/checkpoint-store.ts';
import { statusOver } from '../coordinator/cluster-status.ts';
import type { Config } from '../common/config.ts';
import { within } from '../common/within.ts';

/** The input log of the job, read incrementally as it grows. */
export class LogTail {
  readonly messages: StreamMessage[] = [];
  private last = 0;
  private events = 0;
  /** Partition -> sequences of its event messages (not markers), ascending, and the events up to each. */
  private readonly eventSeqs = new Map<number, { seqs: number[]; counts: number[] }>();

  constructor(
    private readonly nc: NatsConnection,
    readonly job: string,
    readonly stream: string,
  ) {}

  private reading: Promise<number> = Promise.resolve(0);

  /** Reads what was stored since the last call; returns the stream's last sequence. Calls queue up. */
  catchUp(): Promise<number> {
    const next = this.reading.catch(() => 0).then(() => this.readNew());
    this.reading = next;
    return next;
  }

  private async readNew(): Promise<number> {
    const { last } = await streamBounds(this.nc, this.stream, 'the chaos run creates it');
    for await (const m of readStreamRange(this.nc, this.stream, this.last + 1, last)) {
      this.messages.push(m);
      this.last = m.seq;
      const entry = readInputEntry(this.job, m);
      if (!entry || entry.kind === 'marker') continue;
      const n = entry.events?.length ?? 1;
      this.events += n;
      const list = this.eventSeqs.get(entry.partition) ?? { seqs: [], counts: [] };
      list.seqs.push(m.seq);
      list.counts.push((list.counts.at(-1) ?? 0) + n);
      this.eventSeqs.set(entry.partition, list);
    }
    return last;
  }

  /** Events in the log so far (markers excluded). */
  get stored(): number {
    return this.events;
  }

  /** Events of one partition in messages with a sequence up to `seq`. */
  eventsUpTo(partition: number, seq: number): number {
    const list = this.eventSeqs.get(partition);
    if (!list) return 0;
    let lo = 0;
    let hi = list.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list.seqs[mid]! <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : list.counts[lo - 1]!;
  }
}

export interface Sample {
  /** ms since the run started. */
  atMs: number;
  /** Events acknowledged by the stream so far. */
  produced: number;
  /** Events in the input log. */
  stored: number;
  /** Events covered by the partitions' latest checkpoints: processed for good. */
  checkpointed: number;
  workersAlive: number;
  leader: string | null;
  term: number | null;
}

interface Probe {
  /** The stream's last sequence once the fault had taken effect. */
  afterSeq: number;
  /** For a fault that took the leader: a leader of a later term is needed. */
  newerTermThan: number | undefined;
  startedAt: number;
  resolve: (recoveryMs: number) => void;
}

export class ChaosMonitor {
  readonly samples: Sample[] = [];
  private readonly probes = new Set<Probe>();
  private timer: NodeJS.Timeout | undefined;
  private tailTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private tailing: Promise<void> | undefined;
  private stopped = false;
  private checkpoints: KV | undefined;
  private coordination: KV | undefined;
  /** Samples and log reads that got no answer in time (a NATS node down); the run goes on, and the
   *  report says how much of the timeline is missing. */
  errors = 0;
  /** Checkpoints seen going back to an older lease epoch: a fenced owner that wrote after its
   *  successor (must stay empty). */
  readonly epochRegressions: { partition: number; from: number; to: number; owner: string | null; atMs: number }[] = [];
  private readonly epochs = new Map<number, number>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly job: { name: string; partitions: number },
    private readonly config: Pick<Config, 'REPLICAS' | 'LEADER_LEASE_MS' | 'WORKER_TIMEOUT_MS'>,
    readonly tail: LogTail,
    private readonly startedAt: number,
    private readonly produced: () => number,
  ) {}

  /**
   * Samples every `everyMs`. A sample that hangs (its NATS node died, a stream leader is being
   * elected) is given up after a second, so the timeline keeps its pace; the log is tailed in a loop
   * of its own for the same reason.
   */
  start(everyMs = 250): void {
    this.stopped = false;
    const tick = async () => {
      if (this.stopped) return;
      this.running = within(1_500, this.sample()).catch(() => void this.errors++);
      await this.running;
      this.timer = setTimeout(() => void tick(), Math.max(0, everyMs));
    };
    const tail = async () => {
      if (this.stopped) return;
      this.tailing = this.tail.catchUp().then(
        () => undefined,
        () => void this.errors++,
      );
      await this.tailing;
      this.tailTimer = setTimeout(() => void tail(), everyMs);
    };
    void tick();
    void tail();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.tailTimer);
    await this.running;
    await this.tailing;
  }

  /**
   * Starts measuring a fault's recovery; call once the fault has taken effect (the process is dead
   * or frozen, the node is down, the new worker has joined). Resolves with ms since `startedAt`.
   */
  async recovery(startedAt: number, newerTermThan?: number): Promise<number> {
    // The stream's end once the fault took effect; while a stream leader is being elected, ask again
    // (an older position would let checkpoints from before the fault count as recovery).
    let afterSeq: number | undefined;
    while (afterSeq === undefined) {
      afterSeq = await within(2_000, streamBounds(this.nc, this.tail.stream, '')).then(
        (b) => b.last,
        () => undefined,
      );
      if (afterSeq === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    const after = afterSeq;
    return new Promise((resolve) => this.probes.add({ afterSeq: after, newerTermThan, startedAt, resolve }));
  }

  /** The whole input log as stored now. */
  async logSnapshot(): Promise<readonly StreamMessage[]> {
    await this.tail.catchUp();
    return this.tail.messages;
  }

  /** Faults whose recovery is still being waited for. */
  get pending(): number {
    return this.probes.size;
  }

  /** A sample: the checkpoints and the leader (what recovery needs, a few small reads), and the
   *  workers alive from the full status when it answers in time (for the timeline only). */
  private async sample(): Promise<void> {
    this.checkpoints ??= await new Kvm(this.nc).open(CHECKPOINTS_BUCKET);
    this.coordination ??= await new Kvm(this.nc).open(COORDINATION_BUCKET);
    const kv = this.checkpoints;
    const status = within(1_000, statusOver(this.nc, this.config)).catch(() => undefined);
    const [entries, record] = await Promise.all([
      Promise.all(
        Array.from({ length: this.job.partitions }, async (_, p) => {
          const e = await kv.get(checkpointKey(partitionId(this.job.name, p)));
          return e?.operation === 'PUT' ? (e.json() as CheckpointEntry) : undefined;
        }),
      ),
      readLeaderStored(this.coordination),
    ]);
    const now = Date.now();
    const leader = record && now - record.storedAt < this.config.LEADER_LEASE_MS ? record.record : null;
    entries.forEach((e, p) => {
      if (!e) return;
      const seen = this.epochs.get(p) ?? 0;
      if (e.epoch < seen) this.epochRegressions.push({ partition: p, from: seen, to: e.epoch, owner: e.owner, atMs: now - this.startedAt });
      else this.epochs.set(p, e.epoch);
    });
    const workersAlive = (await status)?.workers.filter((w) => w.alive).length ?? this.samples.at(-1)?.workersAlive ?? 0;
    let checkpointed = 0;
    entries.forEach((e, p) => (checkpointed += e ? this.tail.eventsUpTo(p, e.seq) : 0));
    this.samples.push({
      atMs: now - this.startedAt,
      produced: this.produced(),
      stored: this.tail.stored,
      checkpointed,
      workersAlive,
      leader: leader?.id ?? null,
      term: leader?.term ?? null,
    });
    if (!leader) return;
    for (const probe of this.probes) {
      if (probe.newerTermThan !== undefined && leader.term <= probe.newerTermThan) continue;
      if (entries.every((e) => e !== undefined && e.owner !== null && e.seq > probe.afterSeq)) {
        this.probes.delete(probe);
        probe.resolve(now - probe.startedAt);
      }
    }
  }
}

export function inputLogTail(nc: NatsConnection, job: string): LogTail {
  return new LogTail(nc, job, inputStream(job));
}
