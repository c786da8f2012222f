// How much window state one operator (one partition) may hold, and how much it holds: keys with
// state, open entries ((key, pane) for aligned windows, sessions for session windows) and an estimate
// of the bytes they take. An event that would go past a limit is refused (the caller dead-letters it
// with reason `state-limit`) and nothing changes; events that fit keep being counted, and once windows
// close and their state is dropped, room comes back. Every figure is derived from the state itself
// (recomputed on restore), so a replay refuses exactly the events the first run refused.
//
// The byte estimate is deterministic rather than measured: a fixed cost per entry and per key byte,
// plus a fixed cost per value kept by aggregates that keep values (distinct counts, per-value counts,
// percentiles: those that define `size`). It is what makes memory grow without bound; counts and sums
// do not.

export interface StateLimits {
  /** Keys holding state at once. */
  maxKeys: number;
  /** Open entries at once. */
  maxOpenWindows: number;
  /** Estimated bytes of state. */
  maxStateBytes: number;
}

export interface StateLimitRefusal {
  readonly reason: 'state-limit';
  readonly message: string;
}

export const UNLIMITED: StateLimits = { maxKeys: Infinity, maxOpenWindows: Infinity, maxStateBytes: Infinity };

/** Estimated bytes of one entry (the accumulators of count/sum/avg and the map slot). */
export const ENTRY_BYTES = 96;
/** Estimated bytes of one value kept by an aggregate (a set or map slot with a short string). */
export const VALUE_BYTES = 48;

export class StateBudget {
  private readonly keyEntries = new Map<string, number>();
  private entryCount = 0;
  private valueCount = 0;
  private keyBytes = 0;

  constructor(
    readonly limits: StateLimits,
    /** Aggregates that keep values: the most values one event can add. */
    private readonly growable: number,
  ) {}

  get keys(): number {
    return this.keyEntries.size;
  }

  get entries(): number {
    return this.entryCount;
  }

  get bytes(): number {
    return this.entryCount * ENTRY_BYTES + this.valueCount * VALUE_BYTES + this.keyBytes;
  }

  /** Near the byte limit: adding values must be checked first (`refuseGrowth`). */
  get tight(): boolean {
    return this.growable > 0 && this.bytes + this.growable * VALUE_BYTES > this.limits.maxStateBytes;
  }

  /** Undefined when a new entry of `key` fits, else why not. */
  admitEntry(key: string): StateLimitRefusal | undefined {
    return this.check(key, this.keyEntries.get(key));
  }

  /** admitEntry and entryAdded in one: the entry is counted when it fits (one lookup of the key, on
   *  the path every new (key, pane) entry takes). */
  claimEntry(key: string): StateLimitRefusal | undefined {
    const n = this.keyEntries.get(key);
    const refused = this.check(key, n);
    if (refused) return refused;
    if (n === undefined) this.keyBytes += key.length * 2;
    this.keyEntries.set(key, (n ?? 0) + 1);
    this.entryCount++;
    return undefined;
  }

  /** Why a new entry of `key`, which already has `entries` of them, does not fit. */
  private check(key: string, entries: number | undefined): StateLimitRefusal | undefined {
    const { maxKeys, maxOpenWindows, maxStateBytes } = this.limits;
    if (this.entryCount >= maxOpenWindows) {
      return refuse(`the partition holds ${this.entryCount} open windows, its limit (limits.maxOpenWindows (${maxOpenWindows})); the event would open another`);
    }
    const newKey = entries === undefined;
    if (newKey && this.keyEntries.size >= maxKeys) {
      return refuse(`the partition holds state for ${this.keyEntries.size} keys, its limit (limits.maxKeys (${maxKeys})); the event's key is a new one`);
    }
    const grows = ENTRY_BYTES + this.growable * VALUE_BYTES + (newKey ? key.length * 2 : 0);
    if (this.bytes + grows > maxStateBytes) return this.bytesRefusal();
    return undefined;
  }

  bytesRefusal(): StateLimitRefusal {
    return refuse(`the partition's window state is about ${this.bytes} bytes, at its limit (limits.maxStateBytes (${this.limits.maxStateBytes})); the event would add to it`);
  }

  entryAdded(key: string): void {
    const n = this.keyEntries.get(key);
    if (n === undefined) this.keyBytes += key.length * 2;
    this.keyEntries.set(key, (n ?? 0) + 1);
    this.entryCount++;
  }

  /** An entry dropped, with the values its accumulators kept. */
  entryRemoved(key: string, values: number): void {
    const n = this.keyEntries.get(key) ?? 0;
    if (n <= 1) {
      this.keyEntries.delete(key);
      this.keyBytes -= key.length * 2;
    } else {
      this.keyEntries.set(key, n - 1);
    }
    this.entryCount--;
    this.valueCount -= values;
  }

  valuesChanged(delta: number): void {
    this.valueCount += delta;
  }

  clear(): void {
    this.keyEntries.clear();
    this.entryCount = 0;
    this.valueCount = 0;
    this.keyBytes = 0;
  }
}

function refuse(message: string): StateLimitRefusal {
  return { reason: 'state-limit', message };
}
