// The keyed window state a window operator holds: one implementation for aligned (tumbling, sliding)
// windows and one for merging (session) windows. Both account what they hold in a StateBudget.
import type { StateLimitRefusal } from './state-budget.ts';

export interface WindowState<V> {
  /** Adds an event to its windows. False when every window of the event had closed (a late event);
   *  a refusal, with nothing changed, when the event would take the state past a limit. */
  add(key: string, eventTime: number, value: V, watermark: number): boolean | StateLimitRefusal;
  /** Fires windows the watermark has passed and drops those past their allowed lateness. */
  fireDue(watermark: number): void;
  /** The earliest watermark at which fireDue has work to do. */
  readonly nextDue: number;
  /** Size of the state: (key, pane) entries for aligned windows, where a pane is shared by the windows
   *  that cover it (one per window for tumbling windows); (key, session) pairs for session windows. */
  readonly openWindows: number;
  save(): unknown;
  load(saved: unknown): void;
}
