// Checkpoints and partition ownership in JetStream KV. Per partition, one entry `<job>.p<n>` holds the
// owner, its epoch and the latest checkpoint (the stream sequence it covers and where its snapshot
// is). Snapshots are stored in chunks under their own keys, so a state larger than the KV value limit
// still checkpoints. Every write of the entry is a compare-and-set on the revision the writer last
// saw: a worker that lost the partition (paused, cut off, slow) can never overwrite the new owner's
// checkpoint; its write fails with PARTITION_FENCED and it stops the partition.
import type { KV } from '@nats-io/kv';
import { ShardflowError } from '../common/errors.ts';
import { checkpointChunkKey, checkpointKey } from '../common/names.ts';

export interface CheckpointEntry {
  /** Grows by one every time a worker takes the partition. */
  epoch: number;
  /** Worker id, or null once released. */
  owner: string | null;
  /** Last stream sequence covered by the snapshot (0: nothing processed yet). */
  seq: number;
  snapshotId: string | null;
  chunks: number;
  bytes: number;
  /** Epoch ms of the checkpoint. */
  takenAt: number;
}

export interface PartitionLease {
  readonly job: string;
  readonly partition: number;
  readonly owner: string;
  readonly epoch: number;
  /** KV revision of the entry as this owner last wrote it. */
  revision: number;
  entry: CheckpointEntry;
}

export interface Checkpoint {
  seq: number;
  snapshot: Uint8Array | null;
}

const CAS_FAILED = 10071;

export class KvCheckpointStore {
  private snapshots = 0;

  constructor(
    private readonly kv: KV,
    /** Largest chunk, bytes: below the server's max payload. */
    private readonly chunkSize: number,
  ) {}

  /** Takes ownership of a partition (a new epoch) and returns its latest checkpoint. */
  async claim(job: string, partition: number, owner: string): Promise<{ lease: PartitionLease; checkpoint: Checkpoint }> {
    const key = checkpointKey(job, partition);
    for (let attempt = 0; ; attempt++) {
      const current = await this.kv.get(key);
      const previous: CheckpointEntry | null = current && current.operation === 'PUT' ? (current.json() as CheckpointEntry) : null;
      const entry: CheckpointEntry = {
        ...(previous ?? { seq: 0, snapshotId: null, chunks: 0, bytes: 0, takenAt: 0 }),
        epoch: (previous?.epoch ?? 0) + 1,
        owner,
      };
      try {
        const revision = previous && current ? await this.kv.update(key, JSON.stringify(entry), current.revision) : await this.kv.create(key, JSON.stringify(entry));
        const lease: PartitionLease = { job, partition, owner, epoch: entry.epoch, revision, entry };
        return { lease, checkpoint: { seq: entry.seq, snapshot: await this.loadSnapshot(job, partition, entry) } };
      } catch (err) {
        if (!isCasFailure(err) || attempt >= 5) throw err;
      }
    }
  }

  /**
   * Continues a lease after a restart of the partition's actor in the same worker: the latest
   * checkpoint, provided nobody took the partition since. Throws PARTITION_FENCED otherwise — a worker
   * that failed while it was cut off must not take the partition back from its new owner.
   */
  async resume(lease: PartitionLease): Promise<Checkpoint> {
    await this.verify(lease);
    return { seq: lease.entry.seq, snapshot: await this.loadSnapshot(lease.job, lease.partition, lease.entry) };
  }

  /** Stores a snapshot covering the stream up to `seq`. Throws PARTITION_FENCED if the lease was lost. */
  async commit(lease: PartitionLease, seq: number, snapshot: Uint8Array): Promise<void> {
    const snapshotId = `${lease.epoch}-${++this.snapshots}`;
    const chunks = Math.max(1, Math.ceil(snapshot.byteLength / this.chunkSize));
    await Promise.all(
      Array.from({ length: chunks }, (_, i) =>
        this.kv.put(checkpointChunkKey(lease.job, lease.partition, snapshotId, i), snapshot.subarray(i * this.chunkSize, (i + 1) * this.chunkSize)),
      ),
    );
    const entry: CheckpointEntry = { epoch: lease.epoch, owner: lease.owner, seq, snapshotId, chunks, bytes: snapshot.byteLength, takenAt: Date.now() };
    const previous = lease.entry;
    await this.writeEntry(lease, entry, () => this.deleteChunks(lease.job, lease.partition, snapshotId, chunks));
    if (previous.snapshotId) await this.deleteChunks(lease.job, lease.partition, previous.snapshotId, previous.chunks);
  }

  /** Gives the partition up after a final checkpoint: the next owner can start at once. */
  async release(lease: PartitionLease): Promise<void> {
    await this.writeEntry(lease, { ...lease.entry, owner: null }, async () => {});
  }

  /** Throws PARTITION_FENCED if someone else wrote the partition's entry since this owner did. */
  async verify(lease: PartitionLease): Promise<void> {
    const now = await this.inspect(lease.job, lease.partition);
    if (now && now.revision === lease.revision) return;
    throw new ShardflowError(
      'PARTITION_FENCED',
      `partition ${lease.job}/${lease.partition}: epoch ${lease.epoch} of ${lease.owner} was superseded by epoch ${now?.entry.epoch ?? '?'} of ${now?.entry.owner ?? 'nobody'}`,
    );
  }

  /** The entry of a partition as stored now (for status and tests). */
  async inspect(job: string, partition: number): Promise<{ entry: CheckpointEntry; revision: number } | null> {
    const current = await this.kv.get(checkpointKey(job, partition));
    return current && current.operation === 'PUT' ? { entry: current.json() as CheckpointEntry, revision: current.revision } : null;
  }

  private async writeEntry(lease: PartitionLease, entry: CheckpointEntry, onFenced: () => Promise<void>): Promise<void> {
    try {
      lease.revision = await this.kv.update(checkpointKey(lease.job, lease.partition), JSON.stringify(entry), lease.revision);
      lease.entry = entry;
    } catch (err) {
      if (!isCasFailure(err)) throw err;
      await onFenced().catch(() => {});
      const now = await this.inspect(lease.job, lease.partition);
      throw new ShardflowError(
        'PARTITION_FENCED',
        `partition ${lease.job}/${lease.partition}: epoch ${lease.epoch} of ${lease.owner} was superseded by epoch ${now?.entry.epoch ?? '?'} of ${now?.entry.owner ?? 'nobody'}; checkpoint refused`,
        { cause: err },
      );
    }
  }

  private async loadSnapshot(job: string, partition: number, entry: CheckpointEntry): Promise<Uint8Array | null> {
    if (!entry.snapshotId) return null;
    const parts = await Promise.all(Array.from({ length: entry.chunks }, (_, i) => this.kv.get(checkpointChunkKey(job, partition, entry.snapshotId!, i))));
    const bytes = new Uint8Array(entry.bytes);
    let offset = 0;
    for (const [i, part] of parts.entries()) {
      if (!part || part.operation !== 'PUT') {
        throw new ShardflowError('CHECKPOINT_CORRUPT', `checkpoint ${entry.snapshotId} of ${job}/${partition} is missing chunk ${i} of ${entry.chunks}`);
      }
      bytes.set(part.value, offset);
      offset += part.value.byteLength;
    }
    if (offset !== entry.bytes) {
      throw new ShardflowError('CHECKPOINT_CORRUPT', `checkpoint ${entry.snapshotId} of ${job}/${partition} has ${offset} bytes, expected ${entry.bytes}`);
    }
    return bytes;
  }

  private async deleteChunks(job: string, partition: number, snapshotId: string, chunks: number): Promise<void> {
    await Promise.all(Array.from({ length: chunks }, (_, i) => this.kv.purge(checkpointChunkKey(job, partition, snapshotId, i)).catch(() => {})));
  }
}

function isCasFailure(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string };
  return e?.code === CAS_FAILED || e?.api_error?.err_code === CAS_FAILED || /wrong last sequence/.test(String(e?.message));
}
