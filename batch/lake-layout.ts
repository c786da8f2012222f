// How a job's lake folder records its progress, with no I/O. Each Parquet file is named by the range
// of input-stream sequences it covers: every valid event in that range is in that file and no other,
// and the ranges of a job's files never overlap. So the last compacted sequence can always be derived
// from the file names alone; the manifest adds only what names cannot say (a range that held no valid
// event), and a run killed between renaming a file and writing the manifest loses nothing.
import { z } from 'zod';
import { ShardflowError } from '../common/errors.ts';
import type { ColumnPlan } from './parquet-columns.ts';

/** Stream sequences are zero-padded to this many digits so names sort as numbers (2^53 has 16). */
const SEQ_DIGITS = 16;
const FILE_PATTERN = /^seq-(\d{16})-(\d{16})\.parquet$/;
const TEMP_PATTERN = /^\.seq-\d{16}-\d{16}\.parquet\.\d+\.tmp$/;

/** Inclusive range of input-stream sequences. */
export interface SeqRange {
  readonly first: number;
  readonly last: number;
}

export function lakeFileName(range: SeqRange): string {
  return `seq-${pad(range.first)}-${pad(range.last)}.parquet`;
}

export function parseLakeFileName(name: string): SeqRange | undefined {
  const m = FILE_PATTERN.exec(name);
  return m ? { first: Number(m[1]), last: Number(m[2]) } : undefined;
}

/** Hidden (leading dot) so readers listing the folder never pick up a file being written. */
export function tempFileName(final: string, pid: number): string {
  return `.${final}.${pid}.tmp`;
}

export function isTempFileName(name: string): boolean {
  return TEMP_PATTERN.test(name) || /^\._manifest\.json\.\d+\.tmp$/.test(name);
}

function pad(seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, '0');
}

export const manifestSchema = z.object({
  format: z.literal('shardflow-lake/1'),
  job: z.string(),
  stream: z.string(),
  /** Every event up to this sequence has been compacted (or was invalid, or a control message). */
  lastSeq: z.number().int().min(0),
  updatedAt: z.string(),
  columns: z.array(z.object({ name: z.string(), type: z.string(), nullable: z.boolean() })),
});

export type LakeManifest = z.infer<typeof manifestSchema>;

export function makeManifest(job: string, stream: string, lastSeq: number, plan: ColumnPlan, now: Date): LakeManifest {
  return {
    format: 'shardflow-lake/1',
    job,
    stream,
    lastSeq,
    updatedAt: now.toISOString(),
    columns: plan.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable })),
  };
}

/**
 * The last sequence already compacted: the furthest of the manifest and the file names. Overlapping
 * files mean events in two files, which no run of ours writes: refuse to add to such a folder.
 */
export function lastCompactedSeq(fileNames: readonly string[], manifest: LakeManifest | undefined): number {
  const ranges = fileNames
    .map(parseLakeFileName)
    .filter((r): r is SeqRange => r !== undefined)
    .sort((a, b) => a.first - b.first);
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    const prev = ranges[i - 1];
    if (r.last < r.first || (prev && r.first <= prev.last)) {
      throw new ShardflowError(
        'LAKE_CORRUPT',
        `${lakeFileName(r)} overlaps ${prev ? lakeFileName(prev) : 'itself'}: the same events would be in two files. Move one of them out of the folder, then run compact again`,
      );
    }
  }
  return Math.max(manifest?.lastSeq ?? 0, ranges.at(-1)?.last ?? 0);
}

export interface Chunk<R> extends SeqRange {
  readonly rows: R[];
}

/**
 * Cuts the scanned range into files of at most `rowsPerFile` rows. A file covers from the end of the
 * previous one to its last row, and the run's final file to the end of the scanned range, so the
 * files of a job tile the stream with no gap.
 */
export class FileCutter<R> {
  private first: number;
  private rows: R[] = [];

  constructor(
    from: number,
    private readonly rowsPerFile: number,
  ) {
    this.first = from;
  }

  /** One scanned message with the rows of its valid events (none, one, or a batch's); a full file
   *  when one is due. Files are cut between messages only, so a message is in exactly one file. */
  add(seq: number, rows: readonly R[]): Chunk<R> | undefined {
    if (rows.length === 0) return undefined;
    this.rows.push(...rows);
    if (this.rows.length < this.rowsPerFile) return undefined;
    return this.cut(seq);
  }

  /** The rest, through the end of the scanned range; undefined when no row is left. */
  finish(endSeq: number): Chunk<R> | undefined {
    return this.rows.length > 0 ? this.cut(endSeq) : undefined;
  }

  private cut(last: number): Chunk<R> {
    const chunk = { first: this.first, last, rows: this.rows };
    this.first = last + 1;
    this.rows = [];
    return chunk;
  }
}
