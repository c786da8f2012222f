// The console's count of dead letters by reason against a real stream shaped as a job's dead-letter
// stream: one message per subject, limits that remove old messages, a stream made again.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterStream, deadLetterSubject, deadLetterSubjects, HEADERS } from '../common/names.ts';
import { startTestNats, type TestNats } from '../test/cluster-harness.ts';
import { chaosReportHtml, listChaosRuns } from './chaos-runs.ts';
import { SideOutputIndex } from './side-outputs.ts';

let nats: TestNats;
let jsm: JetStreamManager;
beforeAll(async () => {
  nats = await startTestNats();
  jsm = await jetstreamManager(nats.nc);
});
afterAll(async () => nats?.close());

async function deadLetter(job: string, seq: number, reason: string): Promise<void> {
  const h = natsHeaders();
  h.set(HEADERS.reason, reason);
  await jetstream(nats.nc).publish(deadLetterSubject(job, 0, seq, 0), `{"n":${seq}}`, { headers: h });
}

describe('the console index of dead letters', () => {
  it('counts what the stream holds by reason: a replaced message once, removed ones not at all', async () => {
    const job = 'dlq-counts';
    await jsm.streams.add({ name: deadLetterStream(job), subjects: [deadLetterSubjects(job)], max_msgs_per_subject: 1, max_msgs: 5 });
    const index = new SideOutputIndex(deadLetterStream(job));
    await deadLetter(job, 1, 'malformed-json');
    await deadLetter(job, 2, 'schema-violation');
    await deadLetter(job, 3, 'schema-violation');
    await index.refresh(nats.nc, jsm);
    expect(index.byReason()).toEqual({ 'malformed-json': 1, 'schema-violation': 2 });
    // The same event dead-lettered again (a router read it twice after a failover): one message.
    await deadLetter(job, 3, 'schema-violation');
    await index.refresh(nats.nc, jsm);
    expect(index.byReason()).toEqual({ 'malformed-json': 1, 'schema-violation': 2 });
    expect(index.latest({ limit: 10 }).map((e) => e.reason)).toEqual(['schema-violation', 'schema-violation', 'malformed-json']);
    // max_msgs 5: four more push the two oldest out.
    for (const seq of [4, 5, 6, 7]) await deadLetter(job, seq, 'event-time-out-of-range');
    await index.refresh(nats.nc, jsm);
    expect(index.byReason()).toEqual({ 'event-time-out-of-range': 4, 'schema-violation': 1 });
    expect(index.latest({ reason: 'malformed-json', limit: 10 })).toEqual([]);
    // The stream made again from nothing: the index starts over.
    await jsm.streams.delete(deadLetterStream(job));
    await jsm.streams.add({ name: deadLetterStream(job), subjects: [deadLetterSubjects(job)], max_msgs_per_subject: 1 });
    await deadLetter(job, 9, 'malformed-json');
    await index.refresh(nats.nc, jsm);
    expect(index.byReason()).toEqual({ 'malformed-json': 1 });
  });
});

describe('the console list of chaos runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shardflow-chaos-runs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds runs by the folder names `shardflow chaos` gives them, newest first, and refuses other paths', () => {
    const run = (scenario: string, at: Date, exact: boolean) => {
      const id = `${scenario}-${at.toISOString().replace(/[:.]/g, '-')}`;
      mkdirSync(join(dir, 'chaos', id), { recursive: true });
      const report = { scenario, startedAt: at.toISOString(), durationS: 30, verdict: { exact }, faults: [{ recoveryMs: 900 }, { recoveryMs: 1_100 }] };
      writeFileSync(join(dir, 'chaos', id, 'report.json'), JSON.stringify(report));
      writeFileSync(join(dir, 'chaos', id, 'report.html'), `<p>${scenario}</p>`);
      return id;
    };
    const older = run('kill-workers', new Date('2026-12-05T00:12:04.123Z'), true);
    const newer = run('network-partition', new Date('2026-12-05T01:00:00.000Z'), false);
    const runs = listChaosRuns(dir);
    expect(runs.map((r) => [r.id, r.exact, r.medianRecoveryMs])).toEqual([
      [newer, false, 1_000],
      [older, true, 1_000],
    ]);
    expect(listChaosRuns(dir, 1).map((r) => r.id)).toEqual([newer]);
    expect(chaosReportHtml(dir, older)).toBe('<p>kill-workers</p>');
    for (const bad of ['../../etc/passwd', `${older}/../x`, 'report.json']) expect(chaosReportHtml(dir, bad)).toBeUndefined();
  });
});
