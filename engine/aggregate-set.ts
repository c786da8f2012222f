// The named aggregates of a job, applied together to one window's accumulators (an array, one slot
// per aggregate, in the order of the job's definition).
import type { AnyAggregate } from './aggregate.ts';

export class AggregateSet<V> {
  readonly names: readonly string[];
  private readonly fns: readonly AnyAggregate<V>[];
  /** Indexes of the aggregates that keep values (they define `size`). */
  private readonly growable: readonly number[];

  constructor(aggregates: Record<string, AnyAggregate<V>>) {
    this.names = Object.keys(aggregates);
    this.fns = this.names.map((n) => aggregates[n]!);
    this.growable = this.fns.flatMap((f, i) => (f.size ? [i] : []));
  }

  /** How many aggregates keep values (0: state per window is constant). */
  get growableCount(): number {
    return this.growable.length;
  }

  /** Values kept by one window's accumulators. */
  values(accs: unknown[]): number {
    let n = 0;
    for (const i of this.growable) n += this.fns[i]!.size!(accs[i]);
    return n;
  }

  /** Whether adding `value` would make any of them keep more values. */
  wouldGrow(accs: unknown[], value: V): boolean {
    for (const i of this.growable) {
      const fn = this.fns[i]!;
      if (fn.grows ? fn.grows(accs[i], value) : true) return true;
    }
    return false;
  }

  create(): unknown[] {
    const fns = this.fns;
    const accs = new Array<unknown>(fns.length);
    for (let i = 0; i < fns.length; i++) accs[i] = fns[i]!.create();
    return accs;
  }

  add(accs: unknown[], value: V): void {
    const fns = this.fns;
    for (let i = 0; i < fns.length; i++) accs[i] = fns[i]!.add(accs[i], value);
  }

  merge(into: unknown[], from: unknown[]): void {
    const fns = this.fns;
    for (let i = 0; i < fns.length; i++) into[i] = fns[i]!.merge(into[i], from[i]);
  }

  results(accs: unknown[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const fns = this.fns;
    for (let i = 0; i < fns.length; i++) out[this.names[i]!] = fns[i]!.result(accs[i]);
    return out;
  }

  save(accs: unknown[]): unknown[] {
    return accs.map((acc, i) => {
      const fn = this.fns[i]!;
      return fn.save ? fn.save(acc) : acc;
    });
  }

  load(saved: unknown[]): unknown[] {
    return saved.map((s, i) => {
      const fn = this.fns[i]!;
      return fn.load ? fn.load(s) : s;
    });
  }
}
