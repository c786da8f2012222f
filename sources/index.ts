// Live sources of a job: declare them with httpPollSource / sseSource; workers run them with
// SourceRunner when the leader assigns them.
export { httpPollSource, sseSource, withUrl, type HttpPollSourceInput, type HttpPollSourceSpec, type SourceRecord, type SourceSpec, type SseSourceInput, type SseSourceSpec } from './source-spec.ts';
export { SourceRunner, type SourceRunnerEnv, type SourceStats } from './source-runner.ts';
export { withSourceUrls } from './source-urls.ts';
