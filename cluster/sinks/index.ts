// Opens the sink a job's definition names.
import type { NatsConnection } from '@nats-io/transport-node';
import { ShardflowError } from '../../common/errors.ts';
import { resultsBucket } from '../../common/names.ts';
import type { Job } from '../../jobs/define-job.ts';
import { openBucket } from '../topology.ts';
import { KvSink } from './kv-sink.ts';
import { MongoSink } from './mongo-sink.ts';
import type { Sink } from './sink.ts';

export type { Sink, SinkWrite, ResultRow } from './sink.ts';
export { KvSink, readKvResults, resultKey } from './kv-sink.ts';
export { MongoSink } from './mongo-sink.ts';

export async function openSink(nc: NatsConnection, job: Job<unknown>, replicas: number): Promise<Sink> {
  const spec = job.sink;
  switch (spec.type) {
    case 'kv':
      return new KvSink(await openBucket(nc, resultsBucket(job.name), replicas));
    case 'mongodb':
      return MongoSink.connect(spec.url, spec.database, spec.collection);
    case 'postgres':
      throw new ShardflowError('CONFIG_INVALID', `job ${job.name}: the postgres sink is not available in this version; use { type: 'kv' } or { type: 'mongodb', ... }`);
    case 'files':
      throw new ShardflowError('CONFIG_INVALID', `job ${job.name}: the files sink is not available in this version; use { type: 'kv' } or { type: 'mongodb', ... }`);
  }
}
