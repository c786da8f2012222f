// `shardflow status`: the cluster as the coordination bucket shows it, and how full its streams and
// buckets are. `--json` prints a stable shape that scripts rely on:
//   { "leader": {"id", "term", "lease_age_ms"} | null,
//     "coordinators": [{"id", "role", "alive", "metrics_port", "term", "last_heartbeat_ms"}],
//     "workers": [{"id", "alive", "partitions", "last_heartbeat_ms", "metrics_port", "host", "pid",
//                  "rss_bytes", "full"}],
//     "partitions": [{"job", "partition", "owner", "lag", "events", "watermark", "checkpoint_at",
//                     "checkpoint_bytes", "restarts", "keys", "windows"}],
//     "sources": [{"job", "source", "owner", "position", "records", "last_error"}],
//     "jobs": [{"name", "description", "partitions", "module"?, "window", "aggregates", "sink",
//               "registeredAt", "paused", "paused_by"}],
//     "assignment": {"term", "version"} | null,
//     "storage": { "streams": [{"stream", "bytes", "messages", "max_bytes", "max_age_ms", "max_msgs"}],
//                  "account": {"storage_bytes", "max_storage_bytes", "reserved_bytes"} } }
// Limits as JetStream states them: max_bytes, max_msgs and max_storage_bytes -1 and max_age_ms 0 mean
// none.
import type { Config } from '../../common/config.ts';
import { formatDuration } from '../../common/duration.ts';
import { readStatus, type ClusterStorage } from '../../coordinator/cluster-status.ts';
import { natsAccess } from '../../nats/connect.ts';

export const STATUS_HELP = `Usage: shardflow status [--json]

Shows the leader and its term, the coordinators, every worker (alive, partitions, last heartbeat),
every partition (owner, lag), every source (owner, position, records, last error), and storage: each stream and bucket of shardflow (input, ingest, dead
letters, late events, results, checkpoints, coordination) with its size against its limit, messages
and max age, and the JetStream store (used, and reserved by the streams' limits). --json prints it as
one JSON object (a stable shape for scripts).`;

export async function statusCommand(options: { json: boolean }, config: Config): Promise<number> {
  const s = await readStatus(natsAccess(config), config);
  if (options.json) {
    process.stdout.write(JSON.stringify(s) + '\n');
    return 0;
  }
  const lines = [
    `leader        ${s.leader ? `${s.leader.id} (term ${s.leader.term})` : 'none'}`,
    `coordinators  ${s.coordinators.map((c) => `${c.id} ${c.alive ? c.role : 'dead'}`).join(', ') || 'none'}`,
    ...(s.autoscale ? [`autoscale     ${s.autoscale.desired} workers wanted (${s.autoscale.min}..${s.autoscale.max}, term ${s.autoscale.term}): ${s.autoscale.reason}`] : []),
    'workers:',
    ...s.workers.map((w) => `  ${w.id.padEnd(20)} ${w.alive ? 'alive' : 'DEAD '}  ${String(w.partitions).padStart(3)} partitions  last heartbeat ${w.last_heartbeat_ms} ms ago  ${w.host ? `on ${w.host} pid ${w.pid}  ` : ''}metrics http://127.0.0.1:${w.metrics_port}/metrics`),
    'jobs:',
    ...s.jobs.map((j) => `  ${j.name.padEnd(20)} ${j.paused ? `PAUSED by ${j.paused_by}` : 'running'}  ${j.partitions} partitions  ${j.window}  sink ${j.sink.type}${j.module ? `  module ${j.module}` : ''}`),
    'partitions:',
  ];
  const byJob = new Map<string, typeof s.partitions>();
  for (const p of s.partitions) byJob.set(p.job, [...(byJob.get(p.job) ?? []), p]);
  for (const [job, parts] of byJob) {
    lines.push(`  ${job}: ${parts.map((p) => `${p.partition}:${p.owner ?? '-'}${p.lag ? `(lag ${p.lag})` : ''}`).join(' ')}`);
  }
  if (s.sources.length > 0) {
    lines.push('sources:');
    for (const src of s.sources) {
      lines.push(`  ${`${src.job}/${src.source}`.padEnd(30)} ${(src.owner ?? 'unassigned').padEnd(20)} ${src.records === null ? '' : `${src.records.toLocaleString('en-US')} records  `}${src.position ?? ''}`.trimEnd());
      if (src.last_error) lines.push(`    last error: ${src.last_error}`);
    }
  }
  if (s.storage) lines.push('storage:', ...storageLines(s.storage));
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** `  shardflow-station-sentiment-in   12.4 MiB / 1.0 GiB (1%)  52,311 msgs  max age 7d`, one per
 *  stream, then the store of the JetStream account. */
export function storageLines(storage: ClusterStorage): string[] {
  const width = Math.max(0, ...storage.streams.map((st) => st.stream.length));
  const sizes = storage.streams.map((st) => (st.max_bytes > 0 ? `${formatBytes(st.bytes)} / ${formatBytes(st.max_bytes)} (${percent(st.bytes, st.max_bytes)})` : `${formatBytes(st.bytes)} (no byte limit)`));
  const sizeWidth = Math.max(0, ...sizes.map((t) => t.length));
  const lines = storage.streams.map((st, i) => {
    const count = `${st.messages.toLocaleString('en-US')} ${st.messages === 1 ? 'msg' : 'msgs'}${st.max_msgs > 0 ? ` of at most ${st.max_msgs.toLocaleString('en-US')}` : ''}`;
    return `  ${st.stream.padEnd(width)}  ${sizes[i]!.padEnd(sizeWidth)}  ${count.padEnd(12)}${st.max_age_ms > 0 ? `  max age ${formatDuration(st.max_age_ms)}` : ''}`.trimEnd();
  });
  if (lines.length === 0) lines.push('  no shardflow streams yet');
  const a = storage.account;
  const limit = a.max_storage_bytes > 0 ? `of ${formatBytes(a.max_storage_bytes)} (${percent(a.storage_bytes, a.max_storage_bytes)})` : "(no account limit: the server's max_file_store bounds it)";
  lines.push(`  JetStream store  ${formatBytes(a.storage_bytes)} used ${limit}; ${formatBytes(a.reserved_bytes)} reserved by stream limits`);
  return lines;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 512 B, 12.4 MiB, 140 MiB, 8.0 GiB: three significant figures at most. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${UNITS[unit]}`;
}

/** Whole percent, but never 0% for a stream holding something nor 100% short of the limit. */
function percent(part: number, whole: number): string {
  const p = (100 * part) / whole;
  if (part > 0 && p < 1) return '<1%';
  if (part < whole && p > 99) return '>99%';
  return `${Math.round(p)}%`;
}
