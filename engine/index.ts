// The window engine: event-time windows, watermarks, aggregates and snapshots. Pure: no I/O.
export type { AggregateFunction, AnyAggregate, Extractor } from './aggregate.ts';
export * from './aggregates/index.ts';
export { tumbling, type TumblingOptions } from './assigners/tumbling.ts';
export { sliding, type SlidingOptions } from './assigners/sliding.ts';
export { session, type SessionOptions } from './assigners/session.ts';
export { alignedWindowsOf } from './assigners/aligned.ts';
export type { WindowSpec, AlignedWindows, SessionWindows, TimeWindow } from './window.ts';
export { describeWindow } from './window.ts';
export type { EngineRecord, WindowResult, WindowRetraction, LateEvent, LateReason, Emit } from './records.ts';
export { WindowOperator, type WindowOperatorOptions, type OperatorCounters } from './window-operator.ts';
export { encodeSnapshot, decodeSnapshot } from './snapshot-codec.ts';
