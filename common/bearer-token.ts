// Checks an HTTP Authorization header against a bearer token (RFC 6750) in constant time, so the
// time a wrong guess takes says nothing about how much of it was right.
import { createHash, timingSafeEqual } from 'node:crypto';

/** A check of `Authorization` header values against `token`. Both sides are hashed first:
 *  timingSafeEqual wants buffers of equal length, and comparing digests keeps the token's length
 *  from showing either. */
export function bearerTokenCheck(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token);
  return (authorization) => {
    // The scheme is case-insensitive (RFC 7235); the token is compared as sent.
    const sent = /^bearer +(.+)$/i.exec(authorization ?? '')?.[1];
    return sent !== undefined && timingSafeEqual(digest(sent), expected);
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
