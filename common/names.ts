// Every subject, stream and bucket name of the project is built here, never spelled inline.

/** Job names become parts of subjects and bucket names: lowercase letters, digits and dashes. */
export const JOB_NAME_PATTERN = /^[a-z][a-z0-9-]{0,47}$/;

/** Where any producer publishes a job's raw JSON events. */
export function ingestSubject(job: string): string {
  return `shardflow.ingest.${job}`;
}

/** Where events that could not be processed are published, with the reason in headers. */
export function deadLetterSubject(job: string): string {
  return `shardflow.dlq.${job}`;
}

/** Where events that arrived after their windows closed are published. */
export function lateSubject(job: string): string {
  return `shardflow.late.${job}`;
}
