import { describe, expect, it } from 'vitest';
import { partitionId, partitionSubject, type InputKind } from '../common/names.ts';
import { readAheadWindow, toInputRecord } from './partition-feed.ts';

describe('the partition feed', () => {
  it('tells the four kinds of input apart from the subject alone', () => {
    const kinds: InputKind[] = ['event', 'batch', 'routed', 'marker'];
    const records = kinds.map((kind) =>
      toInputRecord({
        subject: partitionSubject(partitionId('j', 3), kind),
        data: new Uint8Array([1]),
        headers: { get: () => '1796410893651' },
        info: { streamSequence: 7, timestampNanos: 1796410893651_000_000, pending: 0 },
      } as never),
    );
    expect(records.map((r) => (r.kind === 'marker' ? 'marker' : r.batch ? 'batch' : 'event'))).toEqual(['event', 'batch', 'batch', 'marker']);
    expect(records[0]).toMatchObject({ seq: 7, ingestTime: 1796410893651 });
    expect(records[3]).toMatchObject({ kind: 'marker', watermark: 1796410893651 });
  });

  it('reads ahead as many messages as fit the buffer, within bounds', () => {
    expect(readAheadWindow(8 * 2 ** 20, 100)).toBe(1_000);
    expect(readAheadWindow(8 * 2 ** 20, 64 * 1024)).toBe(128);
    expect(readAheadWindow(8 * 2 ** 20, 4 * 2 ** 20)).toBe(16);
  });
});
