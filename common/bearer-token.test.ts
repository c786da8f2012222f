// The bearer check of /metrics and /healthz, without a server: which Authorization headers pass.
import { describe, expect, it } from 'vitest';
import { bearerTokenCheck } from './bearer-token.ts';

const TOKEN = 'k3y-0f-at-least-16-chars';
const check = bearerTokenCheck(TOKEN);

describe('bearerTokenCheck', () => {
  it('accepts the token after the Bearer scheme, whatever the scheme case', () => {
    expect(check(`Bearer ${TOKEN}`)).toBe(true);
    expect(check(`bearer ${TOKEN}`)).toBe(true);
    expect(check(`BEARER  ${TOKEN}`)).toBe(true);
  });

  it('refuses a missing header, another scheme, an empty token and the token without its scheme', () => {
    for (const header of [undefined, '', 'Bearer', 'Bearer ', TOKEN, `Basic ${TOKEN}`, `Token ${TOKEN}`, `Bearer${TOKEN}`]) expect(check(header), String(header)).toBe(false);
  });

  it('refuses a wrong token of the same length, a prefix, an extension and a change of case', () => {
    const sameLength = TOKEN.slice(0, -1) + (TOKEN.endsWith('s') ? 't' : 's');
    for (const wrong of [sameLength, TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase(), `${TOKEN} `]) expect(check(`Bearer ${wrong}`), wrong).toBe(false);
  });
});
