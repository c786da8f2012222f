// The batch layer's public surface: compaction of a job's raw input events into Parquet files.
export { compactJob, type CompactionOptions, type CompactionReport, type SkipReason, type WrittenFile } from './compaction.ts';
export { lakeFileName, parseLakeFileName, type LakeManifest, type SeqRange } from './lake-layout.ts';
export { planColumns, type ColumnPlan, type ColumnType, type PlannedColumn } from './parquet-columns.ts';
