// The partition of an event is a deterministic function of its key: FNV-1a (32 bit) of the key's
// UTF-8 bytes, modulo the job's partition count. Producers, workers and tests all use this function.

const encoder = new TextEncoder();

export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  // ASCII keys (the usual ones) are their own UTF-8 bytes: no encoding, no allocation per event.
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    hash ^= c;
    hash = Math.imul(hash, 0x01000193);
  }
  if (ascii) return hash >>> 0;
  hash = 0x811c9dc5;
  const bytes = encoder.encode(text);
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i]!;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function partitionOf(key: string, partitions: number): number {
  return fnv1a32(key) % partitions;
}
