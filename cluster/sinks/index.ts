// Opens the sink a job's definition names. Databases and folders are reached on first write (see
// lazy-sink.ts); the KV sink lives on the worker's own NATS connection.
import type { NatsConnection } from '@nats-io/transport-node';
import { ShardflowError } from '../../common/errors.ts';
import { resultsBucket } from '../../common/names.ts';
import type { Job } from '../../jobs/define-job.ts';
import type { AsyncPublisher } from '../../nats/async-publisher.ts';
import { openBucket } from '../../nats/topology.ts';
import { FilesSink } from './files-sink.ts';
import { KvSink } from './kv-sink.ts';
import { LazySink } from './lazy-sink.ts';
import { MongoSink, redactUrl } from './mongo-sink.ts';
import { checkIdentifier, PostgresSink } from './postgres-sink.ts';
import type { Sink } from './sink.ts';

export type { Sink, SinkWrite, ResultRow, SinkWriteOutcome, RejectedWrite } from './sink.ts';
export { KvSink, readKvResults, resultKey } from './kv-sink.ts';
export { MongoSink } from './mongo-sink.ts';
export { PostgresSink, readPostgresResults } from './postgres-sink.ts';
export { FilesSink, readFileResults, resultFileName } from './files-sink.ts';

export async function openSink(nc: NatsConnection, job: Job<unknown>, replicas: number, publisher: AsyncPublisher): Promise<Sink> {
  const spec = job.sink;
  switch (spec.type) {
    case 'kv':
      return new KvSink(await openBucket(nc, resultsBucket(job.name), replicas, { ttlMs: spec.ttl }), resultsBucket(job.name), publisher, nc.info?.max_payload ?? 1024 * 1024);
    case 'mongodb':
      return new LazySink(`MongoDB ${redactUrl(spec.url)}`, () => MongoSink.connect(spec.url, spec.database, spec.collection));
    case 'postgres': {
      // `shardflow worker` fills the url in from SHARDFLOW_POSTGRES_URL (withSinkDefaults).
      const url = spec.url;
      if (!url) throw new ShardflowError('CONFIG_INVALID', `job ${job.name}: the postgres sink needs a connection string; set sink.url to postgres://user@host:5432/database`);
      // Names the table cannot hold are a mistake in the job: refused at start, not at the first write.
      checkIdentifier(spec.table, 'table');
      for (const name of Object.keys(job.aggregates)) checkIdentifier(name, 'aggregate');
      return new LazySink(`PostgreSQL ${redactUrl(url)}`, () => PostgresSink.open(url, spec.table));
    }
    case 'files': {
      // `shardflow worker` fills the folder in (<SHARDFLOW_DATA_DIR>/results).
      const dir = spec.dir;
      if (!dir) throw new ShardflowError('CONFIG_INVALID', `job ${job.name}: the files sink needs a folder; set sink.dir, e.g. { type: 'files', dir: './results' }`);
      return new LazySink(`files in ${dir}`, () => FilesSink.open(dir, job.name));
    }
  }
}
