// A nats-server with the given jobs' streams, a checkpoint store and a publisher for the source
// tests, with runners and replay servers stopped after the file's tests (vitest hooks registered by
// the call).
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll } from 'vitest';
import { KvCheckpointStore } from '../cluster/checkpoint-store.ts';
import { createLogger } from '../common/logger.ts';
import { CHECKPOINTS_BUCKET, type SourceUnitId } from '../common/names.ts';
import { AsyncPublisher } from '../nats/async-publisher.ts';
import { ensureJobTopology, openBucket } from '../nats/topology.ts';
import { SourceRunner } from '../sources/source-runner.ts';
import type { SourceSpec } from '../sources/source-spec.ts';
import { startTestNats, type TestNats } from './cluster-harness.ts';
import { startReplayServer, type ReplayServer } from './replay-server.ts';

export interface SourceTestbed {
  readonly nats: TestNats;
  readonly store: KvCheckpointStore;
  /** Runners started so far; the i-th runs as worker `w-<i>`. */
  readonly runners: readonly SourceRunner[];
  /** A replay server, closed after the tests. */
  server(handle: Parameters<typeof startReplayServer>[0]): Promise<ReplayServer>;
  /** A started runner of `spec` (its own worker id), stopped after the tests. */
  run(id: SourceUnitId, spec: SourceSpec, onFenced?: () => void): SourceRunner;
}

export function useSourceTestbed(jobs: readonly string[]): SourceTestbed {
  const log = createLogger('test', 'silent');
  const servers: ReplayServer[] = [];
  const runners: SourceRunner[] = [];
  let nats: TestNats | undefined;
  let store: KvCheckpointStore | undefined;
  let publisher: AsyncPublisher | undefined;
  beforeAll(async () => {
    nats = await startTestNats();
    const jsm = await jetstreamManager(nats.nc);
    for (const job of jobs) await ensureJobTopology(nats.nc, jsm, job, { replicas: 1 });
    store = new KvCheckpointStore(await openBucket(nats.nc, CHECKPOINTS_BUCKET, 1), jsm, CHECKPOINTS_BUCKET, 512 * 1024);
    publisher = new AsyncPublisher(nats.nc);
  });
  afterAll(async () => {
    await Promise.all(runners.map((r) => r.stop(false)));
    await Promise.all(servers.map((s) => s.close()));
    publisher?.close();
    await nats?.close();
  });
  return {
    get nats() {
      return nats!;
    },
    get store() {
      return store!;
    },
    runners,
    async server(handle) {
      const s = await startReplayServer(handle);
      servers.push(s);
      return s;
    },
    run(id, spec, onFenced = () => {}) {
      const runner = new SourceRunner(id, spec, { store: store!, publisher: publisher!, workerId: `w-${runners.length}`, maxPayload: 1024 * 1024, log, onFenced });
      runners.push(runner);
      runner.start();
      return runner;
    },
  };
}
