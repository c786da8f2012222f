// The dedupe keys a source has published most recently, newest last, at most `capacity` of them:
// a record whose key is among them is not published again. Kept in the source's checkpoint, so a
// duplicate is caught after a failover too, and beyond JetStream's duplicate window. Pure.
export class SeenKeys {
  private readonly set = new Set<string>();
  private readonly order: string[] = [];
  private head = 0;

  constructor(
    private readonly capacity: number,
    restored: readonly string[] = [],
  ) {
    for (const key of restored.slice(-capacity)) this.add(key);
  }

  has(key: string): boolean {
    return this.set.has(key);
  }

  /** Remembers a key; the oldest is forgotten past the capacity. */
  add(key: string): void {
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

  /** Oldest first, as the constructor takes them back. */
  toArray(): string[] {
    return this.order.slice(this.head);
  }
}
