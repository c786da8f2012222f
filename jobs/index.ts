// The job API: define a job, decode its events, run it in-process.
export { defineJob, type Job, type JobAvro, type JobDefinition, type JobFormat } from './define-job.ts';
export { decodeEvent, DEAD_LETTER_REASONS, jsonPayload, type DeadLetterReason, type DecodedEvent, type PayloadDecoder, type Rejection } from './event-decoder.ts';
export { runLocal, type LocalRun, type DeadLetter, type LocalRunOptions } from './local-runner.ts';
export { sinkSpecSchema, type SinkSpec } from '../common/sink-spec.ts';
export { getJob, jobNames, loadJob } from './catalog.ts';
