// The dedupe keys a source has published most recently, newest last, at most `capacity` of them:
// a record whose key is among them is not published again. Kept in the source's checkpoint, so a
// duplicate is caught after a failover too, and beyond JetStream's duplicate window. Keys are kept
// as 16-character fingerprints: the checkpoint of a source with long keys stays small (10,000 keys
// are about 170 KiB). Pure.
import { createHash } from 'node:crypto';

/** 96 bits of SHA-256: a collision among 10,000 keys is about one chance in 10^20. */
export function fingerprint(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 16);
}

export class SeenKeys {
  private readonly set = new Set<string>();
  private readonly order: string[] = [];
  private head = 0;

  constructor(
    private readonly capacity: number,
    restored: readonly string[] = [],
  ) {
    for (const print of restored.slice(-capacity)) this.remember(print);
  }

  has(key: string): boolean {
    return this.set.has(fingerprint(key));
  }

  /** Remembers a key; the oldest is forgotten past the capacity. */
  add(key: string): void {
    this.remember(fingerprint(key));
  }

  private remember(key: string): void {
    if (this.set.has(key)) return;
    this.set.add(key);
    this.order.push(key);
    if (this.order.length - this.head > this.capacity) this.set.delete(this.order[this.head++]!);
    // Compact now and then so the array does not grow with every key ever seen.
    if (this.head > this.capacity) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }

  get size(): number {
    return this.set.size;
  }

  /** The fingerprints, oldest first, as the constructor takes them back. */
  toArray(): string[] {
    return this.order.slice(this.head);
  }
}
