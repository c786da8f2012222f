// Opens the sink a job's definition names.
import type { NatsConnection } from '@nats-io/transport-node';
import { ShardflowError } from '../../common/errors.ts';
import { resultsBucket } from '../../common/names.ts';
import type { Job } from '../../jobs/define-job.ts';
import { openBucket } from '../topology.ts';
import { FilesSink } from './files-sink.ts';
import { KvSink } from './kv-sink.ts';
import { MongoSink } from './mongo-sink.ts';
import { PostgresSink } from './postgres-sink.ts';
import type { Sink } from './sink.ts';

export type { Sink, SinkWrite, ResultRow } from './sink.ts';
export { KvSink, readKvResults, resultKey } from './kv-sink.ts';
export { MongoSink } from './mongo-sink.ts';
export { PostgresSink, readPostgresResults } from './postgres-sink.ts';
export { FilesSink, readFileResults, resultFileName } from './files-sink.ts';

export async function openSink(nc: NatsConnection, job: Job<unknown>, replicas: number): Promise<Sink> {
  const spec = job.sink;
  switch (spec.type) {
    case 'kv':
      return new KvSink(await openBucket(nc, resultsBucket(job.name), replicas));
    case 'mongodb':
      return MongoSink.connect(spec.url, spec.database, spec.collection);
    case 'postgres':
      // `shardflow worker` fills the url in from SHARDFLOW_POSTGRES_URL (withSinkDefaults).
      if (!spec.url) throw new ShardflowError('CONFIG_INVALID', `job ${job.name}: the postgres sink needs a connection string; set sink.url to postgres://user@host:5432/database`);
      return PostgresSink.open(spec.url, spec.table);
    case 'files':
      // `shardflow worker` fills the folder in (<SHARDFLOW_DATA_DIR>/results).
      if (!spec.dir) throw new ShardflowError('CONFIG_INVALID', `job ${job.name}: the files sink needs a folder; set sink.dir, e.g. { type: 'files', dir: './results' }`);
      return FilesSink.open(spec.dir, job.name);
  }
}
