import { describe, expect, it } from 'vitest';
import { isShardflowError } from '../common/errors.ts';
import { FileCutter, lakeFileName, lastCompactedSeq, parseLakeFileName, type LakeManifest } from './lake-layout.ts';

const manifest = (lastSeq: number): LakeManifest => ({ format: 'shardflow-lake/1', job: 'j', stream: 's', lastSeq, updatedAt: '', columns: [] });

describe('lake file names', () => {
  it('sort as their sequences do and parse back', () => {
    const names = [{ first: 1, last: 9 }, { first: 10, last: 100 }, { first: 101, last: 2 ** 40 }].map(lakeFileName);
    expect(names[0]).toBe('seq-0000000000000001-0000000000000009.parquet');
    expect([...names].sort()).toEqual(names);
    expect(names.map(parseLakeFileName)).toEqual([{ first: 1, last: 9 }, { first: 10, last: 100 }, { first: 101, last: 2 ** 40 }]);
    expect(parseLakeFileName('.seq-0000000000000001-0000000000000009.parquet.12.tmp')).toBeUndefined();
  });
});

describe('lastCompactedSeq', () => {
  it('is the furthest of the manifest and the file names, so a run killed before its manifest loses nothing', () => {
    expect(lastCompactedSeq([], undefined)).toBe(0);
    expect(lastCompactedSeq([lakeFileName({ first: 1, last: 50 }), lakeFileName({ first: 51, last: 80 })], manifest(50))).toBe(80);
    expect(lastCompactedSeq([lakeFileName({ first: 1, last: 50 })], manifest(70))).toBe(70);
    expect(lastCompactedSeq(['notes.txt', '_manifest.json'], undefined)).toBe(0);
  });

  it('refuses a folder whose files overlap', () => {
    try {
      lastCompactedSeq([lakeFileName({ first: 1, last: 50 }), lakeFileName({ first: 40, last: 60 })], undefined);
      expect.unreachable();
    } catch (err) {
      expect(isShardflowError(err, 'LAKE_CORRUPT')).toBe(true);
    }
  });
});

describe('FileCutter', () => {
  it('cuts files of at most rowsPerFile rows that tile the scanned range with no gap', () => {
    const cutter = new FileCutter<number>(11, 2);
    const chunks = [];
    for (let seq = 11; seq <= 20; seq++) {
      const chunk = cutter.add(seq, seq % 3 === 0 ? [] : [seq]);
      if (chunk) chunks.push(chunk);
    }
    const rest = cutter.finish(20);
    if (rest) chunks.push(rest);
    expect(chunks).toEqual([
      { first: 11, last: 13, rows: [11, 13] },
      { first: 14, last: 16, rows: [14, 16] },
      { first: 17, last: 19, rows: [17, 19] },
      { first: 20, last: 20, rows: [20] },
    ]);
  });

  it('writes no file for a range with no row', () => {
    const cutter = new FileCutter<number>(1, 5);
    expect(cutter.add(1, [])).toBeUndefined();
    expect(cutter.finish(1)).toBeUndefined();
  });
});
