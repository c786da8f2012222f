// What the console knows of the cluster, refreshed every CONSOLE_REFRESH_MS over one NATS
// connection: the status (the same reading as `shardflow status --json`), events per second from
// the counters in two readings, a timeline of what changed, the last ten minutes of each job's
// throughput and lag, each job's dead letters and late events by reason, and (less often) every
// stream and bucket. It reads only what the cluster already publishes (the coordination bucket,
// stream info, the side-output streams); the workers do no work for it. Listeners hear of each
// refresh, of new timeline events and of changed results.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Config } from '../common/config.ts';
import type { Logger } from '../common/logger.ts';
import { deadLetterStream, lateStream } from '../common/names.ts';
import { CONSOLE_REFRESH_MS, CONSOLE_STREAMS_REFRESH_MS } from '../common/timing.ts';
import { within } from '../common/within.ts';
import { statusOver, type ClusterStatus } from '../coordinator/cluster-status.ts';
import { eventRates, JobSeries, type Rates } from './rates.ts';
import { ResultsFeed } from './results-feed.ts';
import { SideOutputIndex } from './side-outputs.ts';
import { listStreams, type StreamView } from './streams.ts';
import { Timeline, timelineDiff, type TimelineEvent } from './timeline.ts';

export type ViewNotice =
  | { type: 'status'; at: number }
  | { type: 'timeline'; events: TimelineEvent[] }
  | { type: 'results'; job: string; version: number };

export interface Reading {
  at: number;
  status: ClusterStatus;
  rates: Rates;
}

export class ClusterView {
  readonly timeline = new Timeline();
  readonly series = new JobSeries();
  readonly results: ResultsFeed;
  private reading: Reading | undefined;
  private streams: StreamView[] = [];
  private readonly side = new Map<string, { dead: SideOutputIndex; late: SideOutputIndex }>();
  private readonly listeners = new Set<(n: ViewNotice) => void>();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly busy = new Set<string>();
  private readonly lastProblem = new Map<string, string>();

  private constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.results = new ResultsFeed(nc, config, (job) => this.notify({ type: 'results', job, version: this.results.version(job) }));
  }

  static async start(nc: NatsConnection, config: Config, log: Logger): Promise<ClusterView> {
    const view = new ClusterView(nc, await jetstreamManager(nc), config, log);
    // Three loops, so that a slow one (a flood of dead letters to index) never delays the status.
    const loops: [string, () => Promise<void>, number][] = [
      ['status', () => view.refresh(), CONSOLE_REFRESH_MS],
      ['side outputs', () => view.refreshSideOutputs(), 2 * CONSOLE_REFRESH_MS],
      ['streams', () => view.refreshStreams(), CONSOLE_STREAMS_REFRESH_MS],
    ];
    for (const [name, run, ms] of loops) {
      await view.guarded(name, run, ms);
      view.timers.push(setInterval(() => void view.guarded(name, run, ms), ms));
    }
    return view;
  }

  get current(): Reading | undefined {
    return this.reading;
  }

  get streamList(): StreamView[] {
    return this.streams;
  }

  sideOutputs(job: string): { dead: SideOutputIndex; late: SideOutputIndex } | undefined {
    return this.side.get(job);
  }

  subscribe(listener: (n: ViewNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** An action someone took, into the timeline. */
  record(text: string): void {
    const event: TimelineEvent = { at: Date.now(), kind: 'action', text };
    this.timeline.add(event);
    this.notify({ type: 'timeline', events: [event] });
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.results.close();
  }

  private notify(n: ViewNotice): void {
    for (const l of this.listeners) {
      try {
        l(n);
      } catch {
        // A listener that failed (a closed browser connection) unsubscribes itself.
      }
    }
  }

  /** Runs one loop's work unless its previous run is still going, within a time limit (a read that
   *  hangs while NATS fails over must not stop the loop for good); a failure is logged once. */
  private async guarded(name: string, work: () => Promise<void>, periodMs: number): Promise<void> {
    if (this.busy.has(name)) return;
    this.busy.add(name);
    try {
      await within(Math.max(5_000, 5 * periodMs), work(), `reading the ${name}`);
      this.lastProblem.delete(name);
    } catch (err) {
      // NATS fails over or a bucket is being created: the next run tries again.
      const problem = (err as Error).message;
      if (problem !== this.lastProblem.get(name)) this.log.warn({ err: problem }, `console: ${name} not read`);
      this.lastProblem.set(name, problem);
    } finally {
      this.busy.delete(name);
    }
  }

  private async refresh(): Promise<void> {
    const at = Date.now();
    const status = await statusOver(this.nc, this.config);
    const rates = eventRates(this.reading, { at, status });
    const events = timelineDiff(this.reading?.status, status, at);
    this.reading = { at, status, rates };
    const jobs = new Set(status.jobs.map((j) => j.name));
    for (const j of status.jobs) {
      const lag = status.partitions.filter((p) => p.job === j.name).reduce((n, p) => n + (p.lag ?? 0), 0);
      this.series.add(j.name, { at, eventsPerSec: rates.jobs.get(j.name) ?? 0, lag });
      if (!this.side.has(j.name)) this.side.set(j.name, { dead: new SideOutputIndex(deadLetterStream(j.name)), late: new SideOutputIndex(lateStream(j.name)) });
    }
    this.series.keepOnly(jobs);
    this.results.follow(status.jobs);
    if (events.length > 0) {
      this.timeline.add(...events);
      this.notify({ type: 'timeline', events });
    }
    this.notify({ type: 'status', at });
  }

  private async refreshSideOutputs(): Promise<void> {
    for (const side of this.side.values()) {
      await side.dead.refresh(this.nc, this.jsm);
      await side.late.refresh(this.nc, this.jsm);
    }
  }

  private async refreshStreams(): Promise<void> {
    this.streams = await listStreams(this.jsm);
  }
}
