// Every Prometheus metric of the project, defined once, in one registry per process. Names follow the
// Prometheus conventions: a unit suffix, `_total` for counters.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'shardflow_' }); // shardflow_process_cpu_seconds_total, ...

const partitionLabels = ['job', 'partition'] as const;

export const metrics = {
  eventsProduced: new Counter({ name: 'shardflow_events_produced_total', help: 'Raw events published to a job by this process (acknowledged)', labelNames: ['job'] as const, registers: [registry] }),
  eventsIn: new Counter({ name: 'shardflow_events_in_total', help: 'Messages read from partition streams', labelNames: partitionLabels, registers: [registry] }),
  eventsProcessed: new Counter({ name: 'shardflow_events_processed_total', help: 'Events that reached the window operators', labelNames: partitionLabels, registers: [registry] }),
  lateEvents: new Counter({ name: 'shardflow_late_events_total', help: 'Events sent to the late side output', labelNames: partitionLabels, registers: [registry] }),
  deadLetters: new Counter({ name: 'shardflow_dead_letters_total', help: 'Events dead-lettered, by reason', labelNames: ['job', 'reason'] as const, registers: [registry] }),
  windowResults: new Counter({ name: 'shardflow_window_results_total', help: 'Window results (and retractions) written to the sink', labelNames: partitionLabels, registers: [registry] }),
  consumerLag: new Gauge({ name: 'shardflow_consumer_lag_messages', help: 'Messages in the partition not yet processed', labelNames: partitionLabels, registers: [registry] }),
  watermarkDelay: new Gauge({ name: 'shardflow_watermark_delay_seconds', help: 'Wall clock minus the partition watermark', labelNames: partitionLabels, registers: [registry] }),
  checkpointDuration: new Histogram({
    name: 'shardflow_checkpoint_duration_seconds',
    help: 'Time to flush outputs, snapshot and store a checkpoint',
    labelNames: ['job'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  }),
  checkpointBytes: new Gauge({ name: 'shardflow_checkpoint_size_bytes', help: 'Size of the latest checkpoint snapshot', labelNames: partitionLabels, registers: [registry] }),
  partitionsOwned: new Gauge({ name: 'shardflow_partitions_owned', help: 'Partitions this worker runs', labelNames: ['job'] as const, registers: [registry] }),
  isLeader: new Gauge({ name: 'shardflow_coordinator_is_leader', help: '1 while this coordinator leads', registers: [registry] }),
  leaderTerm: new Gauge({ name: 'shardflow_coordinator_term', help: 'Highest leadership term this coordinator has seen', registers: [registry] }),
  rebalances: new Counter({ name: 'shardflow_rebalances_total', help: 'Assignments published by this coordinator as leader', registers: [registry] }),
  partitionsMoved: new Counter({ name: 'shardflow_partitions_moved_total', help: 'Partitions whose owner changed in published assignments', registers: [registry] }),
  workersAlive: new Gauge({ name: 'shardflow_workers_alive', help: 'Workers this coordinator sees alive', registers: [registry] }),
  heartbeatsMissed: new Counter({ name: 'shardflow_workers_declared_dead_total', help: 'Workers declared dead after missing heartbeats', registers: [registry] }),
  fenced: new Counter({ name: 'shardflow_partitions_fenced_total', help: 'Partitions stopped because another worker took them over', labelNames: ['job'] as const, registers: [registry] }),
};

/** Makes a partition's series exist at 0 from the moment it starts, so that rates and dashboards show
 *  "nothing yet" instead of "no data" (Prometheus' advice for labelled counters). */
export function initPartitionMetrics(labels: { job: string; partition: string }, deadLetterReasons: readonly string[]): void {
  for (const c of [metrics.eventsIn, metrics.eventsProcessed, metrics.lateEvents, metrics.windowResults]) c.inc(labels, 0);
  for (const reason of deadLetterReasons) metrics.deadLetters.inc({ job: labels.job, reason }, 0);
  metrics.fenced.inc({ job: labels.job }, 0);
}
