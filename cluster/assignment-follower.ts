// How a worker follows the leader: it watches the `assignment` record, ignores records of an older
// term than one it has seen (a deposed leader's), and turns each record into starts and stops of its
// partitions. A partition handed over by a live worker is taken only once that worker has released it
// (checkpointed), or after a timeout (then the fencing epoch protects it anyway).
//
// Every few seconds it also reads the record afresh and applies it again: a partition this worker
// was assigned but stopped running (fenced by a false alarm while NATS failed over, or its actor gave
// up) is started again, and one it should have released is released. Reading the record first means
// a worker that wakes from a pause acts on the leader's current view, not on the one it fell asleep with.
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { Logger } from '../common/logger.ts';
import { ASSIGNMENT_KEY, formatPartitionId, parsePartitionId, parseSourceUnitId, partitionId, describeCheckpointed, type CheckpointedId, type PartitionId, type SourceUnitId } from '../common/names.ts';
import { ASSIGNMENT_RECONCILE_MS, HANDOFF_TIMEOUT_MS } from '../common/timing.ts';
import type { AssignmentRecord } from '../coordinator/protocol.ts';
import type { KvCheckpointStore } from './checkpoint-store.ts';

export interface AssignmentTarget {
  readonly id: string;
  /** Jobs this worker runs. */
  readonly jobs: readonly string[];
  /** Partitions running now. */
  owned(): PartitionId[];
  start(id: PartitionId): void;
  release(id: PartitionId): Promise<unknown>;
  /** The sources this worker can run, as "job/name", and how to start and release them. */
  readonly sources?: {
    readonly declared: readonly string[];
    owned(): string[];
    start(id: SourceUnitId): void;
    release(id: SourceUnitId): Promise<unknown>;
  };
}

export interface AssignmentFollower {
  stop(): void;
}

export async function followAssignments(kv: KV, store: KvCheckpointStore, target: AssignmentTarget, log: Logger): Promise<AssignmentFollower> {
  const watch = await kv.watch({ key: ASSIGNMENT_KEY });
  let highest = { term: 0, version: 0 };
  let stopped = false;
  // One apply at a time, always of the newest record: records that arrive while one is applied
  // (a slow release) replace each other, so an outdated one is never applied after a newer one.
  let latest: AssignmentRecord | undefined;
  let applying = false;
  const follow = (record: AssignmentRecord) => {
    if (record.term < highest.term || (record.term === highest.term && record.version < highest.version)) {
      if (record.term < highest.term) log.warn({ term: record.term, highestTerm: highest.term }, 'assignment from an older term ignored');
      return;
    }
    highest = { term: record.term, version: record.version };
    latest = record;
    if (!applying) void applyLatest();
  };
  async function applyLatest(): Promise<void> {
    applying = true;
    try {
      while (latest && !stopped) {
        const record = latest;
        latest = undefined;
        await apply(record).catch((err: unknown) => log.error({ err: (err as Error).message }, 'applying an assignment failed'));
      }
    } finally {
      applying = false;
    }
  }
  void (async () => {
    for await (const e of watch as AsyncIterable<KvWatchEntry>) {
      if (stopped) break;
      if (e.operation === 'PUT') follow(e.json() as AssignmentRecord);
    }
  })();
  const reconcile = setInterval(() => {
    void kv
      .get(ASSIGNMENT_KEY)
      .then((e) => {
        if (!stopped && e?.operation === 'PUT') follow(e.json() as AssignmentRecord);
      })
      .catch(() => {});
  }, ASSIGNMENT_RECONCILE_MS);

  async function apply(record: AssignmentRecord): Promise<void> {
    await Promise.all([applyPartitions(record), applySources(record)]);
  }

  /** Sources as partitions: release the ones assigned elsewhere, start the new ones once their
   *  previous live owner has released them (or the hand-off timed out: fencing protects them). */
  async function applySources(record: AssignmentRecord): Promise<void> {
    const sources = target.sources;
    if (!sources) return;
    const declared = new Set(sources.declared);
    const mine = new Set(Object.entries(record.sources ?? {}).filter(([id, owner]) => owner === target.id && declared.has(id)).map(([id]) => id));
    const owned = new Set(sources.owned());
    const leaving = [...owned].filter((k) => !mine.has(k));
    const arriving = [...mine].filter((k) => !owned.has(k));
    if (leaving.length + arriving.length === 0) return;
    log.info({ term: record.term, version: record.version, startSources: arriving.length, stopSources: leaving.length }, 'source assignment applied');
    await Promise.all(leaving.map((k) => sources.release(parseSourceUnitId(k)!).catch((err: unknown) => log.warn({ source: k, err: (err as Error).message }, 'source release failed; the new owner resumes from the last checkpoint'))));
    await Promise.all(
      arriving.map(async (k) => {
        const id = parseSourceUnitId(k)!;
        const from = record.sourceHandoffs?.[k];
        if (from && from !== target.id) await waitForRelease(id, from);
        if (!stopped) sources.start(id);
      }),
    );
  }

  async function applyPartitions(record: AssignmentRecord): Promise<void> {
    const mine = new Set<string>();
    for (const job of target.jobs) {
      const owners = record.owners[job] ?? [];
      owners.forEach((o, p) => o === target.id && mine.add(formatPartitionId(partitionId(job, p))));
    }
    const owned = new Set(target.owned().map(formatPartitionId));
    const leaving = [...owned].filter((k) => !mine.has(k));
    const arriving = [...mine].filter((k) => !owned.has(k));
    if (leaving.length + arriving.length === 0) return;
    log.info({ term: record.term, version: record.version, start: arriving.length, stop: leaving.length }, 'assignment applied');
    // A release that fails (the partition was already taken over) must not hold up the arrivals.
    await Promise.all(
      leaving.map((k) => target.release(parsePartitionId(k)!).catch((err: unknown) => log.warn({ partition: k, err: (err as Error).message }, 'release failed; the new owner resumes from the last checkpoint'))),
    );
    await Promise.all(
      arriving.map(async (k) => {
        const id = parsePartitionId(k)!;
        const from = record.handoffs[k];
        if (from && from !== target.id) await waitForRelease(id, from);
        if (!stopped) target.start(id);
      }),
    );
  }

  async function waitForRelease(id: CheckpointedId, from: string): Promise<void> {
    const deadline = Date.now() + HANDOFF_TIMEOUT_MS;
    while (Date.now() < deadline && !stopped) {
      const entry = await store.inspect(id);
      if (!entry || entry.entry.owner !== from) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    log.warn({ job: id.job, unit: describeCheckpointed(id), from }, 'previous owner did not release in time; taking it over (the previous owner will be fenced)');
  }

  return {
    stop() {
      stopped = true;
      clearInterval(reconcile);
      watch.stop();
    },
  };
}
