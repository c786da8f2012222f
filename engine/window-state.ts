// The keyed window state a window operator holds: one implementation for aligned (tumbling, sliding)
// windows and one for merging (session) windows.

export interface WindowState<V> {
  /** Adds an event to its windows. False when every window of the event had closed (a late event). */
  add(key: string, eventTime: number, value: V, watermark: number): boolean;
  /** Fires windows the watermark has passed and drops those past their allowed lateness. */
  fireDue(watermark: number): void;
  /** The earliest watermark at which fireDue has work to do. */
  readonly nextDue: number;
  /** Number of open (key, window) pairs. */
  readonly openWindows: number;
  save(): unknown;
  load(saved: unknown): void;
}
