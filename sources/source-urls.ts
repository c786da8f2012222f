// A deployment points a job's sources elsewhere without editing the job (SHARDFLOW_SOURCE_URLS): a
// mirror, a proxy, a server replaying recorded fixtures. An override naming no source of the jobs
// is refused, so a typo does not leave a source on its default URL unnoticed.
import { ShardflowError } from '../common/errors.ts';
import type { Job } from '../jobs/define-job.ts';
import { withUrl } from './source-spec.ts';

export function withSourceUrls<J extends Job<unknown>>(jobs: readonly J[], urls: Readonly<Record<string, string>>): J[] {
  const known = new Set(jobs.flatMap((j) => j.sources.map((s) => `${j.name}/${s.name}`)));
  const unknown = Object.keys(urls).filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new ShardflowError('CONFIG_INVALID', `SHARDFLOW_SOURCE_URLS names ${unknown.join(', ')}, which no job given to this process declares; its sources are: ${[...known].join(', ') || 'none'}`);
  }
  return jobs.map((j) => (j.sources.some((s) => urls[`${j.name}/${s.name}`]) ? { ...j, sources: j.sources.map((s) => (urls[`${j.name}/${s.name}`] ? withUrl(s, urls[`${j.name}/${s.name}`]!) : s)) } : j));
}
