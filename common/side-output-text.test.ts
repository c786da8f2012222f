// Text from input that ends up in NATS headers and log lines: cleaned and cut, so one hostile event
// can neither break a header (nats.js refuses CR/LF in a value) nor flood a log.
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';
import { cleanHeaderValue, MAX_HEADER_VALUE, truncateForLog } from './header-value.ts';
import { RateLimitedLog } from './rate-limited-log.ts';

describe('header values', () => {
  it('have no control characters and at most MAX_HEADER_VALUE characters', () => {
    expect(cleanHeaderValue('not valid JSON: x\r\nboom\u0000!')).toBe('not valid JSON: x  boom !');
    const long = cleanHeaderValue('é'.repeat(5_000));
    expect(long.length).toBe(MAX_HEADER_VALUE);
    expect(long.endsWith('…')).toBe(true);
    expect(truncateForLog('a'.repeat(1_000)).length).toBe(200);
  });
});

describe('a rate-limited log', () => {
  it('writes at most N lines a window, then one line saying how many it left out', () => {
    const lines: { msg: string; fields: Record<string, unknown> }[] = [];
    const log = createLogger('test', 'info', {}, false);
    const capture = Object.assign(Object.create(log) as typeof log, {
      warn: (fields: Record<string, unknown>, msg: string) => lines.push({ msg, fields }),
      info: (fields: Record<string, unknown>, msg: string) => lines.push({ msg, fields }),
    });
    let now = 0;
    const limited = new RateLimitedLog(capture, 3, 10_000, () => now);
    for (let i = 0; i < 50; i++) limited.warn({ i }, 'event dead-lettered');
    expect(lines.map((l) => l.msg)).toEqual(['event dead-lettered', 'event dead-lettered', 'event dead-lettered']);
    now = 10_000;
    limited.warn({ i: 50 }, 'event dead-lettered');
    expect(lines.slice(3).map((l) => l.msg)).toEqual(['47 more such lines left out (rate limit)', 'event dead-lettered']);
    expect(lines[3]!.fields).toMatchObject({ suppressed: 47 });
  });
});
