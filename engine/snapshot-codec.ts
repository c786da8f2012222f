// Encoding of window-operator snapshots with msgpackr: plain MessagePack (no record extension), so the
// same state always gives the same bytes and any MessagePack reader can inspect a checkpoint.
import { Packr } from 'msgpackr';
import { ShardflowError } from '../common/errors.ts';

/** 2: aligned windows kept as panes (engine/pane.ts); a checkpoint of format 1 is refused. */
export const SNAPSHOT_FORMAT = 2;

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export function encodeSnapshot(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function decodeSnapshot(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (cause) {
    throw new ShardflowError('SNAPSHOT_CORRUPT', `snapshot of ${bytes.byteLength} bytes is not valid MessagePack`, { cause });
  }
}
