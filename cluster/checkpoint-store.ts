// Checkpoints and ownership in JetStream KV. Per partition (or router shard) one entry holds the
// owner, its epoch and the latest checkpoint: the stream sequence it covers and where its snapshot is.
// Every write of the entry is a compare-and-set on the revision the writer last saw, so a worker that
// lost the partition (paused, cut off, slow) can never overwrite the new owner's checkpoint: its write
// fails with PARTITION_FENCED and it stops the partition.
//
// Snapshots are stored in chunks (a state larger than the KV value limit still checkpoints) under
// keys of the owner's epoch and one of two slots: each checkpoint overwrites the slot the entry does
// not point to, so the bucket holds at most two snapshots per owner and nothing grows with the number
// of checkpoints (the bucket keeps one value per key). Chunks an owner no longer needs, and the
// leftovers of owners that were killed, are removed with a stream purge of their subjects, which
// leaves no marker behind (a KV purge or delete would leave one per key).
import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { ShardflowError } from '../common/errors.ts';
import { checkpointChunkKey, checkpointChunkKeys, checkpointKey, describeCheckpointed, parseCheckpointChunkKey, type CheckpointedId } from '../common/names.ts';

export interface CheckpointEntry {
  /** Grows by one every time a worker takes the partition. */
  epoch: number;
  /** Worker id, or null once released. */
  owner: string | null;
  /** Last stream sequence covered by the snapshot (0: nothing processed yet). */
  seq: number;
  /** Where the snapshot's chunks are: "e<epoch>s<slot>", or null without a snapshot. */
  snapshotId: string | null;
  chunks: number;
  bytes: number;
  /** Epoch ms of the checkpoint. */
  takenAt: number;
}

export interface PartitionLease {
  readonly id: CheckpointedId;
  readonly owner: string;
  readonly epoch: number;
  /** KV revision of the entry as this owner last wrote it. */
  revision: number;
  entry: CheckpointEntry;
  /** Chunks this owner wrote into each of its two slots (to remove the extra ones when a snapshot shrinks). */
  readonly slotChunks: [number, number];
  /** Whether this owner has removed the chunks of earlier epochs yet. */
  collected: boolean;
}

export interface Checkpoint {
  seq: number;
  snapshot: Uint8Array | null;
  /** When the server stored the checkpoint entry read (its clock, epoch ms): a lower bound of the
   *  server's time now, for a worker that must not trust its own clock (task/idle-detector.ts). */
  storedAt?: number;
}

const CAS_FAILED = 10071;

export class KvCheckpointStore {
  constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    /** The bucket's name (its stream is KV_<bucket>). */
    private readonly bucket: string,
    /** Largest chunk, bytes: below the server's max payload. */
    private readonly chunkSize: number,
  ) {}

  /** Takes ownership (a new epoch) and returns the latest checkpoint. */
  async claim(id: CheckpointedId, owner: string): Promise<{ lease: PartitionLease; checkpoint: Checkpoint }> {
    const key = checkpointKey(id);
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
        const lease: PartitionLease = { id, owner, epoch: entry.epoch, revision, entry, slotChunks: [0, 0], collected: false };
        const storedAt = current?.created.getTime();
        return { lease, checkpoint: { seq: entry.seq, snapshot: await this.loadSnapshot(id, entry), ...(storedAt !== undefined ? { storedAt } : {}) } };
      } catch (err) {
        if (!isCasFailure(err) || attempt >= 5) throw err;
      }
    }
  }

  /**
   * Continues a lease after a restart of the partition's actor in the same worker: the latest
   * checkpoint, provided nobody took the partition since. Throws PARTITION_FENCED otherwise: a worker
   * that failed while it was cut off must not take the partition back from its new owner.
   */
  async resume(lease: PartitionLease): Promise<Checkpoint> {
    // The stored entry, not the lease's copy: a checkpoint the failed actor had in flight may have
    // landed after the lease last heard of it.
    const now = await this.verify(lease);
    lease.entry = now.entry;
    lease.revision = now.revision;
    return { seq: lease.entry.seq, snapshot: await this.loadSnapshot(lease.id, lease.entry), storedAt: now.storedAt };
  }

  /** Stores a checkpoint covering the stream up to `seq` (a snapshot, or none for a router's
   *  position). Throws PARTITION_FENCED if the lease was lost. */
  async commit(lease: PartitionLease, seq: number, snapshot: Uint8Array | null): Promise<void> {
    let entry: CheckpointEntry;
    let slot = -1;
    let chunks = 0;
    if (snapshot === null) {
      entry = { epoch: lease.epoch, owner: lease.owner, seq, snapshotId: null, chunks: 0, bytes: 0, takenAt: Date.now() };
    } else {
      // The slot the entry does not point to: the stored checkpoint stays whole until the entry moves.
      slot = lease.entry.snapshotId === snapshotIdOf(lease.epoch, 0) ? 1 : 0;
      chunks = Math.max(1, Math.ceil(snapshot.byteLength / this.chunkSize));
      await Promise.all(
        Array.from({ length: chunks }, (_, i) => this.kv.put(checkpointChunkKey(lease.id, lease.epoch, slot, i), snapshot.subarray(i * this.chunkSize, (i + 1) * this.chunkSize))),
      );
      entry = { epoch: lease.epoch, owner: lease.owner, seq, snapshotId: snapshotIdOf(lease.epoch, slot), chunks, bytes: snapshot.byteLength, takenAt: Date.now() };
    }
    await this.writeEntry(lease, entry);
    if (slot >= 0) {
      const before = lease.slotChunks[slot]!;
      lease.slotChunks[slot] = chunks;
      // A smaller snapshot than the slot's previous one leaves chunks nobody points to.
      for (let i = chunks; i < before; i++) await this.removeKey(checkpointChunkKey(lease.id, lease.epoch, slot, i));
      if (!lease.collected) {
        lease.collected = true;
        await this.collectOtherEpochs(lease);
      }
    }
  }

  /** Gives the partition up after a final checkpoint: the next owner can start at once. */
  async release(lease: PartitionLease): Promise<void> {
    await this.writeEntry(lease, { ...lease.entry, owner: null });
  }

  /** Throws PARTITION_FENCED if someone claimed the partition (or it was released) since this owner
   *  claimed it. The entry's epoch and owner tell, not its revision: a checkpoint of this owner still
   *  in flight moves the revision before the lease learns it, and must not look like a takeover. */
  async verify(lease: PartitionLease): Promise<{ entry: CheckpointEntry; revision: number; storedAt: number }> {
    const now = await this.inspect(lease.id);
    if (now && now.entry.epoch === lease.epoch && now.entry.owner === lease.owner) return now;
    throw new ShardflowError(
      'PARTITION_FENCED',
      `partition ${describeCheckpointed(lease.id)}: epoch ${lease.epoch} of ${lease.owner} was superseded by epoch ${now?.entry.epoch ?? '?'} of ${now?.entry.owner ?? 'nobody'}`,
    );
  }

  /** The entry as stored now (for status, the chaos monitor and tests). */
  async inspect(id: CheckpointedId): Promise<{ entry: CheckpointEntry; revision: number; storedAt: number } | null> {
    const current = await this.kv.get(checkpointKey(id));
    return current && current.operation === 'PUT' ? { entry: current.json() as CheckpointEntry, revision: current.revision, storedAt: current.created.getTime() } : null;
  }

  /** Every chunk key stored for a partition, whatever its epoch (for tests and diagnostics). */
  async chunkKeys(id: CheckpointedId): Promise<string[]> {
    const keys: string[] = [];
    for await (const k of await this.kv.keys(checkpointChunkKeys(id))) keys.push(k);
    return keys.sort();
  }

  private async writeEntry(lease: PartitionLease, entry: CheckpointEntry): Promise<void> {
    try {
      lease.revision = await this.kv.update(checkpointKey(lease.id), JSON.stringify(entry), lease.revision);
      lease.entry = entry;
    } catch (err) {
      if (!isCasFailure(err)) throw err;
      const now = await this.inspect(lease.id);
      throw new ShardflowError(
        'PARTITION_FENCED',
        `partition ${describeCheckpointed(lease.id)}: epoch ${lease.epoch} of ${lease.owner} was superseded by epoch ${now?.entry.epoch ?? '?'} of ${now?.entry.owner ?? 'nobody'}; checkpoint refused`,
        { cause: err },
      );
    }
  }

  /** Removes the chunks of every other epoch: earlier owners', including killed ones'. Chunks of a
   *  later epoch cannot exist while this owner's entry write succeeds. */
  private async collectOtherEpochs(lease: PartitionLease): Promise<void> {
    for (const key of await this.chunkKeys(lease.id)) {
      const parsed = parseCheckpointChunkKey(key);
      if (parsed && parsed.epoch !== lease.epoch) await this.removeKey(key);
    }
  }

  private async removeKey(key: string): Promise<void> {
    await this.jsm.streams.purge(`KV_${this.bucket}`, { filter: `$KV.${this.bucket}.${key}` }).catch(() => {});
  }

  private async loadSnapshot(id: CheckpointedId, entry: CheckpointEntry): Promise<Uint8Array | null> {
    if (!entry.snapshotId) return null;
    const where = /^e(\d+)s(\d)$/.exec(entry.snapshotId);
    if (!where) throw new ShardflowError('CHECKPOINT_CORRUPT', `checkpoint of ${describeCheckpointed(id)} names an unknown snapshot "${entry.snapshotId}"`);
    const [epoch, slot] = [Number(where[1]), Number(where[2])];
    const parts = await Promise.all(Array.from({ length: entry.chunks }, (_, i) => this.kv.get(checkpointChunkKey(id, epoch, slot, i))));
    const bytes = new Uint8Array(entry.bytes);
    let offset = 0;
    for (const [i, part] of parts.entries()) {
      if (!part || part.operation !== 'PUT' || offset + part.value.byteLength > entry.bytes) {
        throw new ShardflowError('CHECKPOINT_CORRUPT', `checkpoint ${entry.snapshotId} of ${describeCheckpointed(id)} is missing chunk ${i} of ${entry.chunks}`);
      }
      bytes.set(part.value, offset);
      offset += part.value.byteLength;
    }
    if (offset !== entry.bytes) {
      throw new ShardflowError('CHECKPOINT_CORRUPT', `checkpoint ${entry.snapshotId} of ${describeCheckpointed(id)} has ${offset} bytes, expected ${entry.bytes}`);
    }
    return bytes;
  }
}

function snapshotIdOf(epoch: number, slot: number): string {
  return `e${epoch}s${slot}`;
}

function isCasFailure(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string };
  return e?.code === CAS_FAILED || e?.api_error?.err_code === CAS_FAILED || /wrong last sequence/.test(String(e?.message));
}
