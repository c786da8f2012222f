// A min-heap of event-time timers ordered by (time, seq). The sequence number makes the order total,
// so two engines holding the same timers fire them in the same order.

export interface Timer<T> {
  time: number;
  seq: number;
  target: T;
}

export class TimerHeap<T> {
  private readonly items: Timer<T>[] = [];

  get size(): number {
    return this.items.length;
  }

  peekTime(): number {
    return this.items.length === 0 ? Infinity : this.items[0]!.time;
  }

  push(timer: Timer<T>): void {
    const items = this.items;
    items.push(timer);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): Timer<T> | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && before(items[l]!, items[m]!)) m = l;
        if (r < items.length && before(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}

function before<T>(a: Timer<T>, b: Timer<T>): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
