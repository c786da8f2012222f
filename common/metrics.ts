// Every Prometheus metric of the project, defined once, in one registry per process. Names follow the
// Prometheus conventions: a unit suffix, `_total` for counters.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'shardflow_' }); // shardflow_process_cpu_seconds_total, ...

const partitionLabels = ['job', 'partition'] as const;

export const metrics = {
  eventsProduced: new Counter({ name: 'shardflow_events_produced_total', help: 'Raw events published to a job by this process (acknowledged)', labelNames: ['job'] as const, registers: [registry] }),
  eventsIn: new Counter({ name: 'shardflow_events_in_total', help: 'Events read from partition streams (each event of a batch message counts)', labelNames: partitionLabels, registers: [registry] }),
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
  heartbeatsRejected: new Counter({ name: 'shardflow_heartbeats_rejected_total', help: 'Worker heartbeats the coordinator ignored: malformed, under another worker\'s key, or with another partition count than the assignment', registers: [registry] }),
  isLeader: new Gauge({ name: 'shardflow_coordinator_is_leader', help: '1 while this coordinator leads', registers: [registry] }),
  leaderTerm: new Gauge({ name: 'shardflow_coordinator_term', help: 'Highest leadership term this coordinator has seen', registers: [registry] }),
  rebalances: new Counter({ name: 'shardflow_rebalances_total', help: 'Assignments published by this coordinator as leader', registers: [registry] }),
  partitionsMoved: new Counter({ name: 'shardflow_partitions_moved_total', help: 'Partitions whose owner changed in published assignments', registers: [registry] }),
  autoscaleDesired: new Gauge({ name: 'shardflow_autoscale_desired_workers', help: "Workers the leader's autoscaling wants (0: not autoscaling or not the leader)", registers: [registry] }),
  workersAlive: new Gauge({ name: 'shardflow_workers_alive', help: 'Workers this coordinator sees alive', registers: [registry] }),
  heartbeatsMissed: new Counter({ name: 'shardflow_workers_declared_dead_total', help: 'Workers declared dead after missing heartbeats', registers: [registry] }),
  sinkRetries: new Counter({ name: 'shardflow_sink_retries_total', help: 'Sink writes tried again because the sink was unavailable', labelNames: ['job'] as const, registers: [registry] }),
  partitionKeys: new Gauge({ name: 'shardflow_partition_keys', help: 'Keys holding window state in the partition (limit: limits.maxKeys)', labelNames: partitionLabels, registers: [registry] }),
  partitionOpenWindows: new Gauge({ name: 'shardflow_partition_open_windows', help: 'Open (key, pane) entries of the partition (limit: limits.maxOpenWindows)', labelNames: partitionLabels, registers: [registry] }),
  partitionStateBytes: new Gauge({ name: 'shardflow_partition_state_bytes', help: "Estimated bytes of the partition's window state (limit: limits.maxStateBytes)", labelNames: partitionLabels, registers: [registry] }),
  memoryPressure: new Gauge({ name: 'shardflow_worker_memory_pressure', help: '1 while the worker is near its memory limit and takes no new partitions', registers: [registry] }),
  heapLimitBytes: new Gauge({ name: 'shardflow_worker_heap_limit_bytes', help: 'Heap this worker may use before it stops taking partitions', registers: [registry] }),
  streamBytes: new Gauge({ name: 'shardflow_stream_bytes', help: 'Bytes stored in a stream or KV bucket of the cluster (published by the leading coordinator)', labelNames: ['stream'] as const, registers: [registry] }),
  streamLimitBytes: new Gauge({ name: 'shardflow_stream_limit_bytes', help: 'The max_bytes limit of a stream or bucket (-1: none)', labelNames: ['stream'] as const, registers: [registry] }),
  streamMessages: new Gauge({ name: 'shardflow_stream_messages', help: 'Messages stored in a stream or KV bucket of the cluster', labelNames: ['stream'] as const, registers: [registry] }),
  feedReopened: new Counter({ name: 'shardflow_partition_feed_reopened_total', help: 'Stalled partition feeds read again in place after the last processed message', labelNames: ['job'] as const, registers: [registry] }),
  schemaLookups: new Counter({ name: 'shardflow_schema_lookups_total', help: 'Schema ids looked up in the schema registry to decode Avro events, by result (found, unknown)', labelNames: ['result'] as const, registers: [registry] }),
  schemaCacheEntries: new Gauge({ name: 'shardflow_schema_cache_entries', help: 'Schema ids a process keeps resolved for decoding Avro (ceiling 1,000, plus the ids of the batch at hand)', registers: [registry] }),
  fenced: new Counter({ name: 'shardflow_partitions_fenced_total', help: 'Partitions stopped because another worker took them over', labelNames: ['job'] as const, registers: [registry] }),
  sourceRecords: new Counter({ name: 'shardflow_source_records_total', help: 'Records a source published to its job (acknowledged; a duplicate it recognised is not counted)', labelNames: ['job', 'source'] as const, registers: [registry] }),
  sourceDuplicates: new Counter({ name: 'shardflow_source_duplicates_total', help: 'Records a source skipped because their dedupe key was seen before', labelNames: ['job', 'source'] as const, registers: [registry] }),
  sourceDeadLetters: new Counter({ name: 'shardflow_source_dead_letters_total', help: 'Records a source dead-lettered, by reason (not JSON, not an object, too large, refused by toEvent)', labelNames: ['job', 'source', 'reason'] as const, registers: [registry] }),
  sourceRequests: new Counter({ name: 'shardflow_source_requests_total', help: 'Requests and connections of sources, by outcome (ok, not-modified, throttled, server-error, client-error, timeout, network, too-large, invalid)', labelNames: ['job', 'source', 'outcome'] as const, registers: [registry] }),
  sourcesOwned: new Gauge({ name: 'shardflow_sources_owned', help: 'Sources this worker runs', labelNames: ['job'] as const, registers: [registry] }),
};

/** Makes a partition's series exist at 0 from the moment it starts, so that rates and dashboards show
 *  "nothing yet" instead of "no data" (Prometheus' advice for labelled counters). */
export function initPartitionMetrics(labels: { job: string; partition: string }, deadLetterReasons: readonly string[]): void {
  for (const c of [metrics.eventsIn, metrics.eventsProcessed, metrics.lateEvents, metrics.windowResults]) c.inc(labels, 0);
  metrics.sinkRetries.inc({ job: labels.job }, 0);
  for (const reason of deadLetterReasons) metrics.deadLetters.inc({ job: labels.job, reason }, 0);
  metrics.fenced.inc({ job: labels.job }, 0);
}
