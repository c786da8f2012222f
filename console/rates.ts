// Events per second from the counters in two status readings: per partition (its owner's count of
// events since it took the partition), per worker and per job. A partition whose owner changed, or
// whose count went down (its actor restarted on a new owner), counts nothing for that interval
// rather than a negative or a jump. Pure.
import type { ClusterStatus } from '../coordinator/cluster-status.ts';

export interface Rates {
  /** "job/p" -> events/s */
  partitions: Map<string, number>;
  workers: Map<string, number>;
  jobs: Map<string, number>;
}

export function eventRates(before: { at: number; status: ClusterStatus } | undefined, after: { at: number; status: ClusterStatus }): Rates {
  const rates: Rates = { partitions: new Map(), workers: new Map(), jobs: new Map() };
  const seconds = before ? (after.at - before.at) / 1000 : 0;
  const previous = new Map((before?.status.partitions ?? []).map((p) => [`${p.job}/${p.partition}`, p]));
  for (const p of after.status.partitions) {
    const name = `${p.job}/${p.partition}`;
    const old = previous.get(name);
    let rate = 0;
    if (seconds > 0 && old && old.owner === p.owner && old.events !== null && p.events !== null && p.events >= old.events) rate = (p.events - old.events) / seconds;
    rates.partitions.set(name, rate);
    rates.jobs.set(p.job, (rates.jobs.get(p.job) ?? 0) + rate);
    if (p.owner) rates.workers.set(p.owner, (rates.workers.get(p.owner) ?? 0) + rate);
  }
  return rates;
}

/** One point of a job's charts. */
export interface JobSample {
  at: number;
  eventsPerSec: number;
  lag: number;
}

/** The last `limit` samples of each job (ten minutes at one a second by default). */
export class JobSeries {
  private readonly samples = new Map<string, JobSample[]>();

  constructor(private readonly limit = 600) {}

  add(job: string, sample: JobSample): void {
    const list = this.samples.get(job) ?? [];
    list.push(sample);
    if (list.length > this.limit) list.splice(0, list.length - this.limit);
    this.samples.set(job, list);
  }

  of(job: string): JobSample[] {
    return [...(this.samples.get(job) ?? [])];
  }

  /** Forget jobs the cluster no longer runs. */
  keepOnly(jobs: ReadonlySet<string>): void {
    for (const job of this.samples.keys()) if (!jobs.has(job)) this.samples.delete(job);
  }
}
