// Secrets never reach a log line: fields that may hold one are redacted wherever a caller puts them.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { redactUrl } from '../nats/connect.ts';
import { createFileLogger } from './logger.ts';

const dir = mkdtempSync(join(tmpdir(), 'shardflow-logger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('log lines', () => {
  it('carry no password, token or seed, at the top level or one level down', () => {
    const file = join(dir, 'log.jsonl');
    const log = createFileLogger('test', 'info', file);
    log.info({ password: 'hunter2-top', nats: { token: 'tok-nested', user: 'alice' }, seed: 'SUAAAA-seed' }, 'connecting');
    log.info({ url: redactUrl('nats://alice:hunter2-url@127.0.0.1:4222,nats://bob:pw2@host:4223') }, 'url');
    const text = readFileSync(file, 'utf8');
    for (const secret of ['hunter2-top', 'tok-nested', 'SUAAAA-seed', 'hunter2-url', 'pw2']) expect(text).not.toContain(secret);
    expect(text).toContain('"user":"alice"');
    expect(text).toContain('nats://alice:***@127.0.0.1:4222,nats://bob:***@host:4223');
  });
});
