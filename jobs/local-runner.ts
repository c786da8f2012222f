// Runs a job over a finite list of raw events in this process, exactly as the cluster partitions it:
// events are routed by key to P partitions, each with its own window operator and watermark, in
// arrival order. Used by `shardflow run`, by tests as a reference, and by anyone trying a job out.
import { partitionOf } from '../common/partition.ts';
import type { EngineRecord } from '../engine/records.ts';
import { WindowOperator } from '../engine/window-operator.ts';
import type { Job } from './define-job.ts';
import { decodeEvent, type DeadLetterReason } from './event-decoder.ts';

export interface DeadLetter {
  readonly reason: DeadLetterReason;
  readonly message: string;
  /** Position of the event in the input (0-based). */
  readonly position: number;
  /** The original bytes as text (cut to 1 KiB). */
  readonly raw: string;
}

export interface LocalRun<E> {
  /** Everything the window operators emitted (results, retractions, late events), in order. */
  records: (EngineRecord<E> & { partition: number })[];
  deadLetters: DeadLetter[];
  eventsIn: number;
}

export interface LocalRunOptions {
  /** Ingest time of each event (epoch ms), for the future-skew limit. Default: now. */
  ingestTime?: (position: number) => number;
  /** Called every `progressEvery` events. */
  onProgress?: (done: number) => void;
  progressEvery?: number;
}

export function runLocal<E>(job: Job<E>, raws: Iterable<string | Uint8Array>, options: LocalRunOptions = {}): LocalRun<E> {
  const run: LocalRun<E> = { records: [], deadLetters: [], eventsIn: 0 };
  const operators: WindowOperator<E>[] = [];
  for (let p = 0; p < job.partitions; p++) {
    operators.push(
      new WindowOperator<E>({
        window: job.window,
        aggregates: job.aggregates,
        maxOutOfOrderness: job.maxOutOfOrderness,
        allowedLateness: job.allowedLateness,
        idleTimeout: job.idleTimeout,
        emit: (r) => run.records.push({ ...r, partition: p }),
      }),
    );
  }
  const now = Date.now();
  const ingestTime = options.ingestTime ?? (() => now);
  const every = options.progressEvery ?? 10_000;
  let position = 0;
  for (const raw of raws) {
    const decoded = decodeEvent(job, raw, ingestTime(position));
    if (decoded.ok) {
      operators[partitionOf(decoded.key, job.partitions)]!.process(decoded.key, decoded.eventTime, decoded.event);
    } else {
      const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
      run.deadLetters.push({ reason: decoded.reason, message: decoded.message, position, raw: text.length > 1024 ? `${text.slice(0, 1024)}…` : text });
    }
    position++;
    if (options.onProgress && position % every === 0) options.onProgress(position);
  }
  run.eventsIn = position;
  for (const op of operators) op.endOfInput();
  return run;
}
