// The JetStream store ceiling of the servers the project starts: nats-server gets max_file_store and
// max_memory_store from the options, and refuses streams whose limits do not fit in it; `npm start`
// refuses at once a ceiling below what its job's streams reserve.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/logger.ts';
import type { Job } from '../jobs/define-job.ts';
import { ensureJobTopology } from '../nats/topology.ts';
import countingJob from '../test/fixtures/counting-job.ts';
import { LocalCluster } from './local-cluster.ts';
import { freePort, startNatsServer, type NatsServerProcess } from './nats-server.ts';

const MiB = 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), 'shardflow-store-'));
const servers: NatsServerProcess[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(root, { recursive: true, force: true });
});

async function topologyOn(maxStoreBytes: number): Promise<void> {
  const dir = join(root, `n${servers.length}`);
  const server = await startNatsServer({ dir, maxStoreBytes, maxMemoryStoreBytes: 64 * MiB });
  servers.push(server);
  expect(readFileSync(join(dir, 'nats-server.conf'), 'utf8')).toContain(`max_file_store: ${maxStoreBytes}, max_memory_store: ${64 * MiB}`);
  const nc = await connect({ servers: server.url });
  try {
    await ensureJobTopology(nc, await jetstreamManager(nc), 'counting', { replicas: 1 });
  } finally {
    await nc.close();
  }
}

describe('the JetStream store ceiling', () => {
  it("holds a job's streams when it exceeds what their limits reserve", async () => {
    await topologyOn(2048 * MiB);
  });

  it("makes the server refuse a stream whose max_bytes does not fit: limits are reserved, not only what is stored", async () => {
    await expect(topologyOn(512 * MiB)).rejects.toThrow(/insufficient storage/);
  });

  it('makes `npm start` refuse a ceiling below what the job reserves, saying what to set', async () => {
    const up = LocalCluster.up({
      dataDir: join(root, 'up'),
      natsPort: await freePort(),
      coordinators: 1,
      workers: 1,
      job: countingJob as Job<unknown>,
      jobSpec: 'test/fixtures/counting-job.ts',
      rate: 0,
      log: createLogger('launcher', 'silent'),
      env: { SHARDFLOW_NATS_MAX_STORE: '1GiB' },
    });
    await expect(up).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: 'the streams of job counting reserve 1408 MiB of the NATS store (the maxBytes of its retention) but SHARDFLOW_NATS_MAX_STORE allows 1024 MiB: raise SHARDFLOW_NATS_MAX_STORE (e.g. 3GiB) or lower the job\'s retention',
    });
  });

  it('is invalid unless a whole number of bytes', async () => {
    await expect(startNatsServer({ dir: join(root, 'bad'), maxStoreBytes: 1.5 })).rejects.toThrow(/maxStoreBytes must be a whole number of bytes >= 1, got 1.5/);
  });
});
