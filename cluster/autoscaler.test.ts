// Autoscaling on a real local cluster: the leader decides from the CPU and lag its workers report,
// the launcher's follower starts and stops worker processes to match, and status shows the decision.
// Low thresholds and short hysteresis times, so that a modest producer is pressure and its stop calm.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import chaosJob, { CHAOS_JOB_MODULE } from '../chaos/chaos-job.ts';
import { loadConfig } from '../common/config.ts';
import { createLogger } from '../common/logger.ts';
import { seededRandom } from '../common/random.ts';
import { statusOver } from '../coordinator/cluster-status.ts';
import type { Job } from '../jobs/define-job.ts';
import { connectNats } from '../nats/connect.ts';
import { followAutoscale } from './autoscaler.ts';
import { LocalCluster } from './local-cluster.ts';
import { freePort } from './nats-server.ts';
import { JobProducer, produceLive } from './producer.ts';

const dir = mkdtempSync(join(tmpdir(), 'shardflow-autoscale-'));
const SETTINGS = {
  SHARDFLOW_AUTOSCALE: '1..3',
  SHARDFLOW_AUTOSCALE_UP_LAG: '100000',
  SHARDFLOW_AUTOSCALE_UP_CPU: '0.1',
  SHARDFLOW_AUTOSCALE_DOWN_LAG: '50',
  SHARDFLOW_AUTOSCALE_DOWN_CPU: '0.08',
  SHARDFLOW_AUTOSCALE_UP_FOR_MS: '1000',
  SHARDFLOW_AUTOSCALE_DOWN_FOR_MS: '3000',
  SHARDFLOW_AUTOSCALE_COOLDOWN_MS: '2000',
};

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('autoscaling on lag and CPU', () => {
  let cluster: LocalCluster | undefined;
  afterAll(async () => {
    await cluster?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds workers while the job is busy and removes them once it is calm, within MIN..MAX, shown in status', async () => {
    const log = createLogger('test', 'warn');
    cluster = await LocalCluster.up({
      dataDir: dir,
      natsPort: await freePort(),
      coordinators: 1,
      workers: 1,
      job: chaosJob as Job<unknown>,
      jobSpec: CHAOS_JOB_MODULE,
      rate: 0,
      log,
      env: { PATH: process.env.PATH ?? '', SHARDFLOW_DATA_DIR: dir, ...SETTINGS },
    });
    const c = cluster;
    const nc = await connectNats(c.access('admin'), { name: 'autoscale-test', persistent: true });
    const follower = await followAutoscale(nc, 1, c, { min: 1, max: 3 }, log);
    const config = { ...loadConfig({}), REPLICAS: 1 };
    let stop = false;
    try {
      const producer = new JobProducer(nc, chaosJob, { producerId: 'autoscale-test', retryForMs: 30_000 });
      const producing = produceLive(producer, chaosJob, 1_500, seededRandom(3), () => stop);
      // Busy: the leader wants more workers, the follower starts them, never more than 3.
      await until('a scale up', 45_000, () => (c.workerIds().length >= 2 ? true : undefined));
      const up = follower.last!;
      expect(up.desired).toBeGreaterThanOrEqual(2);
      expect(up.reason).toMatch(/^behind: lag \d+ .*cpu \d+%/);
      const status = await statusOver(nc, config);
      expect(status.autoscale?.desired).toBe(up.desired);
      expect(status.autoscale).toMatchObject({ min: 1, max: 3 });
      stop = true;
      await producing;
      // Calm: back down to the minimum, one worker at a time.
      await until('a scale down to 1', 60_000, () => (c.workerIds().length === 1 ? true : undefined));
      expect(follower.last!.reason).toMatch(/^calm: lag \d+/);
      expect(follower.last!.desired).toBe(1);
    } finally {
      stop = true;
      follower.stop();
      await nc.close();
    }
  }, 150_000);
});
