// A side output (a dead letter, a refused result row) must itself fit in a NATS message, or writing
// it would fail every time and stop the partition it was meant to unblock. What does not fit is cut,
// and says so in a header with its original size.

/** Room kept for the subject and headers next to the body. */
const ROOM = 16 * 1024;

export const TRUNCATED_HEADER = 'Shardflow-Truncated';

export function fitPayload(data: Uint8Array | string, maxPayload: number): { data: Uint8Array | string; headers: Record<string, string> } {
  const limit = maxPayload - ROOM;
  const size = typeof data === 'string' ? (data.length * 3 <= limit ? 0 : Buffer.byteLength(data)) : data.byteLength;
  if (size <= limit) return { data, headers: {} };
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return { data: bytes.subarray(0, limit), headers: { [TRUNCATED_HEADER]: String(size) } };
}
