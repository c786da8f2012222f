import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isShardflowError } from '../common/errors.ts';
import { CHECKPOINTS_BUCKET, partitionId } from '../common/names.ts';
import { avg, count, distinctCount } from '../engine/aggregates/index.ts';
import { tumbling } from '../engine/assigners/tumbling.ts';
import { WindowOperator } from '../engine/window-operator.ts';
import { startTestNats, type TestNats } from '../test/cluster-harness.ts';
import { KvCheckpointStore } from './checkpoint-store.ts';

// A server whose largest message (and so KV value) is 128 KiB.
const MAX_PAYLOAD = 128 * 1024;
let nats: TestNats;
let store: () => Promise<KvCheckpointStore>;

beforeAll(async () => {
  nats = await startTestNats({ maxPayload: MAX_PAYLOAD });
  const kv = await new Kvm(nats.nc).create(CHECKPOINTS_BUCKET, { history: 1 });
  const jsm = await jetstreamManager(nats.nc);
  store = async () => new KvCheckpointStore(kv, jsm, CHECKPOINTS_BUCKET, MAX_PAYLOAD - 16 * 1024);
});
afterAll(async () => nats.close());

function bigOperator() {
  const op = new WindowOperator<{ user: string; v: number }>({
    window: tumbling('1h'),
    aggregates: { n: count(), mean: avg('v'), users: distinctCount('user') },
    emit: () => {},
  });
  for (let i = 0; i < 40_000; i++) op.process(`key-${i % 20_000}`, Date.UTC(2026, 0, 1) + i, { user: `user-${i % 977}`, v: i });
  return op;
}

describe('checkpoints in JetStream KV', () => {
  it('store and restore a state several times larger than the KV value limit', async () => {
    const op = bigOperator();
    const snapshot = op.snapshot();
    expect(snapshot.byteLength).toBeGreaterThan(4 * MAX_PAYLOAD);
    const a = await store();
    const { lease, checkpoint } = await a.claim(partitionId('big', 0), 'w1');
    expect(checkpoint).toEqual({ seq: 0, snapshot: null });
    await a.commit(lease, 12_345, snapshot);
    expect(lease.entry.chunks).toBeGreaterThan(4);

    // Another worker (a fresh store) takes the partition and restores an identical operator.
    const b = await store();
    const taken = await b.claim(partitionId('big', 0), 'w2');
    expect(taken.lease.epoch).toBe(2);
    expect(taken.checkpoint.seq).toBe(12_345);
    expect(Buffer.from(taken.checkpoint.snapshot!).equals(Buffer.from(snapshot))).toBe(true);
    const restored = new WindowOperator<{ user: string; v: number }>({
      window: tumbling('1h'),
      aggregates: { n: count(), mean: avg('v'), users: distinctCount('user') },
      emit: () => {},
    });
    restored.restore(taken.checkpoint.snapshot!);
    expect(restored.openWindows).toBe(20_000);
    expect(Buffer.from(restored.snapshot()).equals(Buffer.from(snapshot))).toBe(true);
  });

  it('refuse the checkpoint of an owner whose partition was taken over, and keep the new owner\'s', async () => {
    const s = await store();
    const first = await s.claim(partitionId('fence', 3), 'old');
    await s.commit(first.lease, 10, new Uint8Array([1, 2, 3]));
    const second = await (await store()).claim(partitionId('fence', 3), 'new');
    await expect(s.commit(first.lease, 20, new Uint8Array([9, 9, 9]))).rejects.toSatisfy((err: unknown) => isShardflowError(err, 'PARTITION_FENCED') && /epoch 1 of old was superseded by epoch 2 of new/.test((err as Error).message));
    await expect(s.verify(first.lease)).rejects.toMatchObject({ code: 'PARTITION_FENCED' });
    await expect(s.resume(first.lease)).rejects.toMatchObject({ code: 'PARTITION_FENCED' });
    const now = await s.inspect(partitionId('fence', 3));
    expect(now?.entry).toMatchObject({ epoch: 2, owner: 'new', seq: 10 });
    expect(Array.from((await (await store()).claim(partitionId('fence', 3), 'third')).checkpoint.snapshot!)).toEqual([1, 2, 3]);
    void second;
  });

  it('release a partition with its final checkpoint so the next owner starts from it', async () => {
    const s = await store();
    const { lease } = await s.claim(partitionId('rel', 1), 'w1');
    await s.commit(lease, 99, new Uint8Array([7]));
    await s.release(lease);
    expect((await s.inspect(partitionId('rel', 1)))?.entry).toMatchObject({ owner: null, epoch: 1, seq: 99 });
    const next = await s.claim(partitionId('rel', 1), 'w2');
    expect(next.checkpoint.seq).toBe(99);
    expect(next.lease.epoch).toBe(2);
  });

  it('keep storage bounded: two snapshots per owner at most, no marker per checkpoint, and the chunks of killed owners collected', async () => {
    const id = partitionId('bounded', 2);
    const jsm = await jetstreamManager(nats.nc);
    const stream = `KV_${CHECKPOINTS_BUCKET}`;
    const before = (await jsm.streams.info(stream, { subjects_filter: '$KV.*.bounded.>' })).state;
    const s = await store();
    // An owner killed after two large checkpoints (never released): its chunks stay behind for now.
    const killed = await s.claim(id, 'killed');
    const big = new Uint8Array(3 * MAX_PAYLOAD).fill(7);
    await s.commit(killed.lease, 5, big);
    await s.commit(killed.lease, 6, big);
    expect((await s.chunkKeys(id)).length).toBeGreaterThanOrEqual(6);
    // The next owner checkpoints 200 times, with snapshots that grow and shrink.
    const next = await (await store()).claim(id, 'next');
    expect(next.checkpoint.seq).toBe(6);
    for (let i = 0; i < 200; i++) await s.commit(next.lease, 100 + i, new Uint8Array(i % 3 === 0 ? 2 * MAX_PAYLOAD : 100).fill(i % 256));
    const keys = await s.chunkKeys(id);
    expect(keys.every((k) => k.includes(`.e${next.lease.epoch}s`))).toBe(true);
    expect(keys.length).toBeLessThanOrEqual(1 + 3);
    const after = (await jsm.streams.info(stream, { subjects_filter: '$KV.*.bounded.>' })).state;
    // One message per live key: the entry and the chunks of the two slots, nothing per checkpoint.
    expect(after.messages - before.messages).toBeLessThanOrEqual(1 + keys.length);
    const restored = await (await store()).claim(id, 'third');
    expect(restored.checkpoint.seq).toBe(299);
    expect(restored.checkpoint.snapshot!.byteLength).toBe(100);
  });
});
