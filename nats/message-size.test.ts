import { describe, expect, it } from 'vitest';
import { fitPayload, TRUNCATED_HEADER } from './message-size.ts';

describe('side outputs that must fit in a message', () => {
  it('stay as they are when they fit, and are cut with their original size in a header when not', () => {
    expect(fitPayload('{"small":1}', 1024 * 1024)).toEqual({ data: '{"small":1}', headers: {} });
    const big = new Uint8Array(2 * 1024 * 1024).fill(65);
    const fitted = fitPayload(big, 1024 * 1024);
    expect((fitted.data as Uint8Array).byteLength).toBeLessThan(1024 * 1024);
    expect(fitted.headers).toEqual({ [TRUNCATED_HEADER]: String(2 * 1024 * 1024) });
    expect(fitPayload('é'.repeat(600_000), 1024 * 1024).headers[TRUNCATED_HEADER]).toBe('1200000');
  });
});
