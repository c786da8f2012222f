// One chaos run: a fresh local cluster runs the chaos job, a producer feeds it live, the scenario's
// faults hit it on a seeded schedule, and once the producer has stopped and the job has drained,
// the sink, the late side output and the dead-letter stream are checked against the oracle computed
// from the input log. The same seed gives the same schedule, victims and input values.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { readStreamRange, streamBounds } from '../batch/stream-range.ts';
import { statusOver } from '../coordinator/cluster-status.ts';
import { LocalCluster } from '../cluster/local-cluster.ts';
import { freePort } from '../cluster/nats-server.ts';
import { spreadOverHosts } from '../cluster/placement.ts';
import { destroyOnExit, removeLeftovers, VirtualHosts } from '../cluster/virtual-hosts.ts';
import { fencedStops, leaderActs, termConflicts } from './leader-terms.ts';
import { JobProducer, produceLive } from '../cluster/producer.ts';
import { readKvResults } from '../cluster/sinks/kv-sink.ts';
import type { Config } from '../common/config.ts';
import { ShardflowError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { positionKey, readInputEntry } from '../common/input-log.ts';
import { deadLetterStream, HEADERS, lateStream, resultsBucket } from '../common/names.ts';
import { seededRandom } from '../common/random.ts';
import { within } from '../common/within.ts';
import type { Job } from '../jobs/define-job.ts';
import chaosJob, { CHAOS_JOB, CHAOS_JOB_MODULE } from './chaos-job.ts';
import { injectFault, newFaultState, type FaultTiming } from './faults.ts';
import { ChaosMonitor, inputLogTail } from './monitor.ts';
import { expectedChaosResults, type WindowTotals } from './oracle.ts';
import type { ChaosReport, FaultRecord } from './report.ts';
import { planFaults, SCENARIOS, type ScenarioName } from './scenarios.ts';
import { chaosVerdict, type Verdict } from './verdict.ts';
import { connectNats } from '../nats/connect.ts';

export interface ChaosOptions {
  scenario: ScenarioName;
  durationS: number;
  seed: number;
  /** Events per second the producer publishes. */
  rate: number;
  workers: number;
  coordinators: number;
  /** A fresh folder for this run's NATS store and logs. */
  dataDir: string;
  /** How long to wait after the producer stops for the results to be exact, s. */
  drainS: number;
  config: Pick<Config, 'LEADER_LEASE_MS' | 'WORKER_TIMEOUT_MS'>;
  log: Logger;
  /** Environment of the cluster's processes. */
  env: Record<string, string>;
  /** One line per fault and every few seconds of the drain. */
  progress?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Message ids of the input are `chaos-input-<n>`: the n-th event of the run. */
const PRODUCER_ID = 'chaos-input';
const INPUT_ID = /^chaos-input-(\d+)$/;
/** Partitions checkpoint this often in a chaos run: recovery is measured on checkpoints. */
export const CHAOS_CHECKPOINT_INTERVAL_MS = 250;

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const scenario = SCENARIOS[o.scenario];
  const progress = o.progress ?? (() => {});
  const timing: FaultTiming = {
    pauseMs: o.config.WORKER_TIMEOUT_MS + 1_500,
    natsDownMs: 3_000,
    natsCatchUpMs: 5_000,
    hostDownMs: 4_000,
    partitionMs: 6_000,
    slowMs: 8_000,
    slowLink: { rateKbit: 2_000, queueMs: 200, loss: 0.03 },
  };
  const replicas = scenario.natsNodes === 3 ? 3 : 1;
  mkdirSync(o.dataDir, { recursive: true });
  // A multi-host run: hosts made here and deleted in any case (the finally below, or the exit
  // handlers if this process is interrupted); leftovers of runs that died are removed first.
  let hosts: VirtualHosts | undefined;
  let keepHostsOnExit = () => {};
  if (scenario.hosts) {
    const leftovers = removeLeftovers();
    if (leftovers.length > 0) progress(`removed leftovers of earlier runs: ${leftovers.join(' ')}`);
    hosts = VirtualHosts.create(scenario.hosts);
    keepHostsOnExit = destroyOnExit(hosts);
    progress(`hosts ${hosts.hosts.map((h) => `${h.name} ${h.address} (${h.netns})`).join(', ')}; this machine is ${hosts.observerAddress}`);
  }
  const cluster = await LocalCluster.up({
    dataDir: o.dataDir,
    natsPort: await freePort(),
    coordinators: o.coordinators,
    workers: o.workers,
    job: chaosJob as Job<unknown>,
    jobSpec: CHAOS_JOB_MODULE,
    rate: 0,
    log: o.log,
    env: { ...o.env, SHARDFLOW_DATA_DIR: o.dataDir, SHARDFLOW_CHECKPOINT_INTERVAL_MS: String(CHAOS_CHECKPOINT_INTERVAL_MS) },
    natsNodes: scenario.natsNodes,
    ...(hosts ? { placement: spreadOverHosts(hosts.hosts, scenario.skewS ? { skewS: scenario.skewS } : {}) } : {}),
  }).catch((err: unknown) => {
    hosts?.destroy();
    keepHostsOnExit();
    throw err;
  });
  const statusConfig = { ...o.config, REPLICAS: replicas };
  const nc = await connectNats(cluster.access('admin'), { name: 'chaos', persistent: true });
  let monitor: ChaosMonitor | undefined;
  try {
    progress(`cluster up in ${o.dataDir} (${cluster.processes().map((p) => p.id).join(' ')}); waiting for every partition to be assigned`);
    await waitUntilAssigned(nc, statusConfig);
    const producer = new JobProducer(nc, chaosJob, { producerId: PRODUCER_ID, retryForMs: 100_000 });
    const startedAt = Date.now();
    monitor = new ChaosMonitor(nc, chaosJob, statusConfig, inputLogTail(nc, chaosJob.name), startedAt, () => producer.published);
    monitor.start();
    let stopProducing = false;
    const producing = produceLive(producer, chaosJob, o.rate, seededRandom(o.seed ^ 0x5eed), () => stopProducing);
    const producerFailed = producing.then(
      () => undefined,
      (err: unknown) => (err as Error).message,
    );

    const random = seededRandom(o.seed);
    const durationMs = o.durationS * 1000;
    const plan = planFaults(scenario, durationMs, random, o.coordinators + o.workers);
    progress(`${scenario.name}: ${plan.length} faults over ${o.durationS} s while producing ${o.rate} events/s`);
    const faults: FaultRecord[] = [];
    const faultState = newFaultState(hosts);
    const settled: Promise<void>[] = [];
    const recoveries: Promise<unknown>[] = [];
    for (const planned of plan) {
      await sleep(startedAt + planned.atMs - Date.now());
      const before = monitor.samples.at(-1);
      try {
        const f = await injectWithRetries(() => injectFault(cluster, planned, random, timing, faultState));
        const at = f.at;
        // A fault that took the leader has recovered only under a newly elected one.
        const leaderHost = cluster.processes().find((p) => p.id === before?.leader)?.host;
        const tookLeader =
          f.kind === 'leader-kill' ||
          (f.kind === 'coordinator-restart' && before?.leader === f.target) ||
          ((f.kind === 'host-kill' || f.kind === 'network-partition') && leaderHost === f.target);
        const record: FaultRecord = { kind: f.kind, target: f.target, detail: f.detail, atMs: at - startedAt, recoveryMs: null };
        faults.push(record);
        settled.push(f.settled.catch((err: unknown) => void (record.error = `second half failed: ${(err as Error).message}`)));
        const recovered = monitor.recovery(at, tookLeader ? (before?.term ?? 0) : undefined).then((ms) => {
          record.recoveryMs = ms;
          progress(`  ${f.kind} ${f.target}: recovered in ${(ms / 1000).toFixed(1)} s`);
        });
        recoveries.push(recovered);
        // A host fault shakes every raft group of the NATS cluster (a healed node comes back with a
        // higher term and forces elections; a restarted one catches up): the next host or node fault
        // waits until this one has recovered (60 s at most), else two overlap into a lost quorum.
        if (HOST_FAULTS.has(f.kind)) {
          const previous = faultState.natsHealed;
          faultState.natsHealed = Promise.all([previous, Promise.race([recovered, sleep(60_000)])]).then(() => undefined);
        }
        progress(`${((at - startedAt) / 1000).toFixed(1).padStart(6)} s  ${f.detail}`);
      } catch (err) {
        const atMs = Date.now() - startedAt;
        faults.push({ kind: planned.kind, target: '-', detail: '', atMs, recoveryMs: null, error: (err as Error).message });
        progress(`${(atMs / 1000).toFixed(1).padStart(6)} s  ${planned.kind} not injected: ${(err as Error).message}`);
      }
    }
    await sleep(startedAt + durationMs - Date.now());
    stopProducing = true;
    const producerError = await producerFailed;
    await Promise.all(settled);
    const stoppedAt = Date.now();
    progress(`producer stopped after ${producer.published} events${producerError ? ` (it failed: ${producerError})` : ''}; draining`);

    const drainDeadline = stoppedAt + o.drainS * 1000;
    let verdict: Verdict | undefined;
    for (;;) {
      try {
        verdict = await within(30_000, judge(nc, monitor, producer.published), 'reading the results');
      } catch (err) {
        progress(`  draining: ${(err as Error).message}; trying again`);
      }
      if (verdict) {
        const recovered = monitor.pending === 0;
        if ((verdict.exact && recovered) || Date.now() > drainDeadline) break;
        // Exact but a recovery is still unseen: it is seen within a few checkpoints, or never.
        if (verdict.exact && Date.now() > stoppedAt + 15_000) break;
        progress(`  draining: ${verdict.results.found} of ${verdict.results.expected} windows, ${verdict.late.found} late, ${verdict.deadLettered.found} dead-lettered`);
      } else if (Date.now() > drainDeadline) {
        throw new ShardflowError('CHAOS_UNVERIFIABLE', `the results could not be read within the drain time (${o.drainS} s); see ${cluster.logDir}`);
      }
      await sleep(2_000);
    }
    // A watermark marker ahead of the time its message was stored came from a clock running ahead: it
    // would make events of the next seconds late. The oracle replays markers, so it cannot see this.
    const futureMarkers = (await monitor.logSnapshot()).filter((m) => {
      const entry = readInputEntry(CHAOS_JOB.name, m);
      return entry?.kind === 'marker' && entry.watermark > m.timestamp;
    }).length;
    await monitor.stop();
    const logOf = (id: string) => (existsSync(cluster.logFile(id)) ? readFileSync(cluster.logFile(id), 'utf8') : '');
    const acts = cluster.coordinatorIds().flatMap((id) => leaderActs(id, logOf(id)));
    const fenced = Object.fromEntries(cluster.workerIds().map((id) => [id, fencedStops(logOf(id))]));
    return {
      scenario: scenario.name,
      description: scenario.description,
      seed: o.seed,
      durationS: o.durationS,
      rate: o.rate,
      workers: o.workers,
      coordinators: o.coordinators,
      natsNodes: scenario.natsNodes,
      startedAt: new Date(startedAt).toISOString(),
      drainMs: Date.now() - stoppedAt,
      faults,
      crashes: cluster.crashes.map((c) => ({ id: c.id, code: c.code, signal: c.signal, atMs: c.at - startedAt })),
      verdict,
      samples: monitor.samples,
      unansweredSamples: monitor.errors,
      dataDir: o.dataDir,
      leaderTerms: termConflicts(acts),
      epochRegressions: monitor.epochRegressions,
      futureMarkers,
      fenced,
      ...(hosts ? { hosts: cluster.processes().map((p) => ({ id: p.id, host: p.host ?? '-' })) } : {}),
    };
  } finally {
    await monitor?.stop();
    await nc.close().catch(() => {});
    await cluster.down();
    hosts?.destroy();
    keepHostsOnExit();
  }
}

const HOST_FAULTS = new Set<string>(['host-kill', 'network-partition', 'slow-network']);

/** A fault that cannot be injected right now (no leader at this instant, a control-plane read timed
 *  out while a NATS node is down) is tried again a few times before it is reported as not injected. */
async function injectWithRetries<T>(inject: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await inject();
    } catch (err) {
      if (i >= attempts) throw err;
      await sleep(1_000);
    }
  }
}

async function waitUntilAssigned(nc: NatsConnection, config: Parameters<typeof statusOver>[1]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = await statusOver(nc, config).catch(() => undefined);
    const owned = s?.partitions.filter((p) => p.job === CHAOS_JOB.name && p.owner !== null).length ?? 0;
    if (s?.leader && owned === CHAOS_JOB.partitions) return;
    if (Date.now() > deadline) throw new ShardflowError('PROCESS_FAILED', `the cluster did not assign the ${CHAOS_JOB.partitions} partitions of the chaos job within 60 s`);
    await sleep(200);
  }
}

/** Reads what the cluster produced and compares it with the oracle of the log as it is now. */
async function judge(nc: NatsConnection, monitor: ChaosMonitor, published: number): Promise<Verdict> {
  const log = await monitor.logSnapshot();
  const expected = expectedChaosResults(log);
  const loggedIndexes: number[] = [];
  for (const m of log) {
    // A message id names the producer's index of the message's first event; a batch holds the next ones.
    const n = INPUT_ID.exec(m.header('Nats-Msg-Id') ?? '')?.[1];
    const entry = readInputEntry(CHAOS_JOB.name, m);
    if (n === undefined || entry?.kind !== 'events') continue;
    for (let i = 0; i < (entry.events?.length ?? 1); i++) loggedIndexes.push(Number(n) + i);
  }
  const rows = new Map<string, WindowTotals>();
  for (const r of await readKvResults(await new Kvm(nc).open(resultsBucket(CHAOS_JOB.name)))) {
    rows.set(`${r.key}|${r.window_start}|${r.window_end}`, { count: Number(r.count), sum: Number(r.sum) });
  }
  const sideOutput = async (stream: string) => {
    const out: { position: string; reason: string }[] = [];
    const { last } = await streamBounds(nc, stream, 'the chaos run creates it');
    for await (const m of readStreamRange(nc, stream, 1, last)) {
      out.push({ position: positionKey(Number(m.header(HEADERS.sourceSeq)), Number(m.header(HEADERS.sourceIndex) ?? 0)), reason: m.header(HEADERS.reason) ?? '' });
    }
    return out;
  };
  const late = await sideOutput(lateStream(CHAOS_JOB.name));
  const deadLetters = await sideOutput(deadLetterStream(CHAOS_JOB.name));
  return chaosVerdict(expected, { published, loggedIndexes, rows, latePositions: late.map((l) => l.position), deadLetters });
}
