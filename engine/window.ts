// Window specifications: which windows an event belongs to (Flink's "assigner" vocabulary). All times
// are epoch milliseconds; a window [start, end) holds event times start <= t < end, and its last
// possible event time ("max timestamp") is end - 1.

/** Fixed-size, non-overlapping windows aligned to `offset` (tumbling) or overlapping ones (sliding). */
export interface AlignedWindows {
  readonly kind: 'tumbling' | 'sliding';
  readonly size: number;
  readonly slide: number;
  readonly offset: number;
}

/** Per-key windows that close after `gap` ms without events; overlapping sessions merge. */
export interface SessionWindows {
  readonly kind: 'session';
  readonly gap: number;
}

export type WindowSpec = AlignedWindows | SessionWindows;

export interface TimeWindow {
  readonly start: number;
  readonly end: number;
}

/** The latest event time a window holds. */
export function maxTimestamp(end: number): number {
  return end - 1;
}

export function describeWindow(spec: WindowSpec): string {
  switch (spec.kind) {
    case 'tumbling':
      return `tumbling(size=${spec.size}ms${spec.offset ? `, offset=${spec.offset}ms` : ''})`;
    case 'sliding':
      return `sliding(size=${spec.size}ms, slide=${spec.slide}ms${spec.offset ? `, offset=${spec.offset}ms` : ''})`;
    case 'session':
      return `session(gap=${spec.gap}ms)`;
  }
}
