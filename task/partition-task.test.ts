// The partition task's invariants, property-tested on random logs (valid and broken events, batches,
// markers): the effects do not depend on how the log is cut into steps or when time passes; a task
// restored from any of its checkpoints, fed the log again from any older position, carries on with
// exactly the effects the uninterrupted task had after that checkpoint; every event ends in exactly one
// place; and the results equal a brute-force oracle that shares no code with the engine.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { packEvents } from '../common/event-batch.ts';
import { partitionId } from '../common/names.ts';
import { partitionOf } from '../common/partition.ts';
import { count, countBy, sum } from '../engine/aggregates/index.ts';
import { tumbling } from '../engine/assigners/tumbling.ts';
import { defineJob } from '../jobs/define-job.ts';
import { alignedOracle, type OracleEvent } from '../test/window-oracle.ts';
import type { Effect, InputRecord, SinkWrite } from './effects.ts';
import { PartitionTask } from './partition-task.ts';

const T0 = Date.UTC(2026, 0, 1);
const BOUND = 100;
const LATENESS = 300;
const definition = {
  name: 'task-test',
  source: { partitions: 1 },
  schema: z.strictObject({ k: z.string().min(1), v: z.number().int(), t: z.number() }),
  key: 'k' as const,
  eventTime: 't' as const,
  window: tumbling(1_000),
  watermark: { maxOutOfOrderness: BOUND, idleTimeout: 500 },
  allowedLateness: LATENESS,
  aggregates: { count: count(), sum: sum('v') },
};
const job = defineJob(definition);
const ID = partitionId(job.name, 0);
const OPTIONS = { checkpointIntervalMs: 1_000, checkpointEveryMessages: 7 };
const enc = new TextEncoder();

type Raw = { kind: 'event'; k: string; v: number; t: number } | { kind: 'bad'; text: string } | { kind: 'marker'; at: number };

const rawArb: fc.Arbitrary<Raw> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('event' as const), k: fc.constantFrom('a', 'b', 'c', 'd'), v: fc.integer({ min: -5, max: 5 }), t: fc.integer({ min: 0, max: 6_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bad' as const), text: fc.constantFrom('{"k":', '[]', '{"k":"a","v":"x","t":1}', 'null', '{"k":"a","v":1,"t":1,"x":2}') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('marker' as const), at: fc.integer({ min: 0, max: 6_000 }) }) },
);

/** A log: messages of 1-4 events (a batch when several) or markers, with sequences 1, 2, ... */
const logArb = fc.array(fc.array(rawArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 60 }).map((groups) => {
  const records: InputRecord[] = [];
  const raws: Raw[][] = [];
  for (const group of groups) {
    const seq = records.length + 1;
    const marker = group.find((r): r is Extract<Raw, { kind: 'marker' }> => r.kind === 'marker');
    if (marker) {
      records.push({ kind: 'marker', seq, watermark: T0 + marker.at });
      raws.push([marker]);
      continue;
    }
    const events = group.map((r) => enc.encode(r.kind === 'event' ? JSON.stringify({ k: r.k, v: r.v, t: T0 + r.t }) : (r as { text: string }).text));
    records.push({ kind: 'events', seq, ingestTime: T0 + 10_000, data: events.length === 1 ? events[0]! : packEvents(events), batch: events.length > 1 });
    raws.push(group);
  }
  return { records, raws };
});

/** Effects that leave the task (what the sink and the side outputs end up holding), as comparable
 *  text: the writes in order, and the side outputs in order (the two are independent of each other). */
function outputs(effects: readonly Effect[]): { writes: string[]; side: string[] } {
  const writes: string[] = [];
  const side: string[] = [];
  for (const e of effects) {
    if (e.type === 'write') for (const w of e.writes) writes.push(JSON.stringify(w));
    else if (e.type === 'dead-letter') side.push(`dead ${e.position.seq}.${e.position.index} ${e.reason}`);
    else if (e.type === 'late') side.push(`late ${e.position.seq}.${e.position.index} ${e.reason}`);
  }
  return { writes, side };
}

function runWhole(records: readonly InputRecord[]): Effect[] {
  const task = new PartitionTask(job, ID, OPTIONS, { seq: 0, snapshot: null }, 0);
  return [...task.step(records, 0).effects];
}

/** The same log cut into steps at `cuts`, with time passing (and ticks) between them; checkpoints are
 *  stored at once. Returns every effect in order. */
function runCut(records: readonly InputRecord[], cuts: readonly number[]): Effect[] {
  const task = new PartitionTask(job, ID, OPTIONS, { seq: 0, snapshot: null }, 0);
  const effects: Effect[] = [];
  const take = (list: readonly Effect[]) => {
    for (const e of list) {
      effects.push(e);
      if (e.type === 'checkpoint') task.checkpointStored(e.seq);
    }
  };
  let from = 0;
  let now = 0;
  for (const cut of [...cuts, records.length]) {
    take(task.step(records.slice(from, Math.max(from, cut)), now).effects);
    now += 400;
    take(task.tick(now, false).effects);
    from = Math.max(from, cut);
  }
  return effects;
}

describe('the partition task', () => {
  it('makes the same outputs however the log is cut into steps and whenever time passes', () => {
    fc.assert(
      fc.property(logArb, fc.array(fc.nat(), { maxLength: 8 }), ({ records }, cutSeeds) => {
        const cuts = [...new Set(cutSeeds.map((c) => c % (records.length + 1)))].sort((a, b) => a - b);
        expect(outputs(runCut(records, cuts))).toEqual(outputs(runWhole(records)));
      }),
    );
  });

  it('restored from any of its checkpoints and fed the log again from an older position, carries on exactly as the uninterrupted task', () => {
    fc.assert(
      fc.property(logArb, fc.array(fc.nat(), { maxLength: 8 }), fc.nat(), fc.nat(), ({ records }, cutSeeds, pick, replaySeed) => {
        const cuts = [...new Set(cutSeeds.map((c) => c % (records.length + 1)))].sort((a, b) => a - b);
        const all = runCut(records, cuts);
        const checkpoints = all.flatMap((e, i) => (e.type === 'checkpoint' ? [{ e, i }] : []));
        if (checkpoints.length === 0) return;
        const { e: cp, i } = checkpoints[pick % checkpoints.length]!;
        if (cp.type !== 'checkpoint') return;
        // Everything the uninterrupted run put out after that checkpoint:
        const after = outputs(all.slice(i + 1));
        // A new owner restores it, and its feed starts anywhere at or before the checkpoint.
        const restored = new PartitionTask(job, ID, OPTIONS, { seq: cp.seq, snapshot: cp.snapshot }, 0);
        const replayFrom = cp.seq === 0 ? 0 : replaySeed % (cp.seq + 1);
        const resumed = restored.step(records.slice(replayFrom), 0).effects;
        expect(outputs(resumed)).toEqual(after);
      }),
    );
  });

  it('puts every event in exactly one place: the windows, the dead letters or the late output', () => {
    fc.assert(
      fc.property(logArb, ({ records, raws }) => {
        const task = new PartitionTask(job, ID, OPTIONS, { seq: 0, snapshot: null }, 0);
        const { effects, counts } = task.step(records, 0);
        const events = raws.filter((g) => g[0]!.kind !== 'marker').flat().length;
        expect(counts.processed + counts.deadLettered + counts.late).toBe(events);
        const positions = effects.flatMap((e) => (e.type === 'dead-letter' || e.type === 'late' ? [`${e.position.seq}.${e.position.index}`] : []));
        expect(new Set(positions).size).toBe(positions.length);
        for (const e of effects) if (e.type === 'dead-letter') expect(['malformed-json', 'schema-violation']).toContain(e.reason);
      }),
    );
  });

  it('writes the results a brute-force oracle computes from the same log', () => {
    fc.assert(
      fc.property(logArb, ({ records, raws }) => {
        const oracleEvents: OracleEvent[] = [];
        raws.forEach((group, m) => {
          for (const [index, r] of group.entries()) {
            if (r.kind === 'marker') oracleEvents.push({ key: '', ts: 0, input: 0, v: 0, id: -1, marker: T0 + r.at });
            else if (r.kind === 'event') oracleEvents.push({ key: r.k, ts: T0 + r.t, input: 0, v: r.v, id: (m + 1) * 10 + index });
          }
        });
        const oracle = alignedOracle(oracleEvents, { kind: 'tumbling', size: 1_000, slide: 1_000, offset: 0, gap: 0, bound: BOUND, lateness: LATENESS });
        const task = new PartitionTask(job, ID, OPTIONS, { seq: 0, snapshot: null }, 0);
        const effects = [...task.step(records, 0).effects];
        // The sink's content (last revision per window) before the end of input.
        const sink = new Map<string, { count: unknown; sum: unknown; revision: number }>();
        for (const e of effects) if (e.type === 'write') for (const w of e.writes as SinkWrite[]) if (w.op === 'upsert') sink.set(`${w.row.key}|${w.row.window_start}|${w.row.window_end}`, { count: w.row.count, sum: w.row.sum, revision: w.row.revision });
        const expected = new Map<string, { count: number; sum: number; revision: number }>();
        for (const em of oracle.emissions) if (em.at < oracleEvents.length) expected.set(em.id, { count: em.values.count, sum: em.values.sum, revision: em.revision });
        expect(sink).toEqual(expected);
        const late = effects.flatMap((e) => (e.type === 'late' ? [e.position.seq * 10 + e.position.index] : []));
        expect(late.sort((a, b) => a - b)).toEqual([...oracle.late].sort((a, b) => a - b));
      }),
    );
  });

  it('takes one checkpoint at a time, after the writes it covers, at the position it has processed', () => {
    fc.assert(
      fc.property(logArb, ({ records }) => {
        const task = new PartitionTask(job, ID, { checkpointIntervalMs: 1, checkpointEveryMessages: 2 }, { seq: 0, snapshot: null }, 0);
        let inFlight: number | undefined;
        for (const [i, r] of records.entries()) {
          const { effects } = task.step([r], i * 10);
          const cps = effects.filter((e) => e.type === 'checkpoint');
          expect(cps.length).toBeLessThanOrEqual(1);
          if (cps.length === 1) {
            expect(inFlight).toBeUndefined();
            expect(effects.at(-1)).toBe(cps[0]);
            expect((cps[0] as { seq: number }).seq).toBe(r.seq);
            inFlight = (cps[0] as { seq: number }).seq;
          }
          if (inFlight !== undefined && i % 3 === 2) {
            task.checkpointStored(inFlight);
            expect(task.checkpointedUpTo).toBe(inFlight);
            inFlight = undefined;
          }
        }
      }),
    );
  });

  it('proposes an idle marker once per position, only when caught up and quiet for the idle timeout', () => {
    const task = new PartitionTask(job, ID, OPTIONS, { seq: 0, snapshot: null }, 0);
    task.step([{ kind: 'events', seq: 1, ingestTime: T0, data: enc.encode(JSON.stringify({ k: 'a', v: 1, t: T0 })), batch: false }], T0);
    const markers = (now: number, caughtUp: boolean) => task.tick(now, caughtUp).effects.filter((e) => e.type === 'idle-marker');
    expect(markers(400, true)).toEqual([]);
    expect(markers(T0 + 5_000, false)).toEqual([]);
    expect(markers(T0 + 5_000, true)).toEqual([{ type: 'idle-marker', afterSeq: 1, watermark: T0 + 5_000 - BOUND - 1 }]);
    expect(markers(T0 + 6_000, true)).toEqual([]);
    task.idleMarkerNotWritten();
    expect(markers(T0 + 7_000, true)).toHaveLength(1);
  });

  it('takes the idle watermark from the server stamp of the last message, not from a skewed worker clock', () => {
    // The server stored the event at T0; this worker's clock runs 30 s ahead (or behind).
    for (const skew of [30_000, -30_000]) {
      const task = new PartitionTask(job, ID, OPTIONS, { seq: 0, snapshot: null }, T0 + skew);
      task.step([{ kind: 'events', seq: 1, ingestTime: T0, data: enc.encode(JSON.stringify({ k: 'a', v: 1, t: T0 })), batch: false }], T0 + skew);
      const markers = task.tick(T0 + skew + 5_000, true).effects.filter((e) => e.type === 'idle-marker');
      expect(markers).toEqual([{ type: 'idle-marker', afterSeq: 1, watermark: T0 + 5_000 - BOUND - 1 }]);
    }
  });

  it('after a restart with no new message, takes the idle watermark from the server stamp of the checkpoint', () => {
    const first = new PartitionTask(job, ID, OPTIONS, { seq: 0, snapshot: null }, T0);
    first.step([{ kind: 'events', seq: 1, ingestTime: T0, data: enc.encode(JSON.stringify({ k: 'a', v: 1, t: T0 })), batch: false }], T0);
    const snapshot = first.checkpointNow(T0).snapshot;
    // Restored by a worker 30 s ahead, from a checkpoint the server stored at T0 + 100.
    const restored = new PartitionTask(job, ID, OPTIONS, { seq: 1, snapshot, storedAt: T0 + 100 }, T0 + 30_000);
    const markers = restored.tick(T0 + 30_000 + 5_000, true).effects.filter((e) => e.type === 'idle-marker');
    expect(markers).toEqual([{ type: 'idle-marker', afterSeq: 1, watermark: T0 + 100 + 5_000 - BOUND - 1 }]);
  });

  it('dead-letters an event published to a partition its key does not belong to, and counts the others', () => {
    const four = defineJob({ ...definition, name: 'task-test-4', source: { partitions: 4 } });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'é-ü'];
    const own = keys.filter((k) => partitionOf(k, 4) === 2);
    expect(own.length).toBeGreaterThan(0);
    const task = new PartitionTask(four, partitionId(four.name, 2), OPTIONS, { seq: 0, snapshot: null }, 0);
    const events = keys.map((k) => enc.encode(JSON.stringify({ k, v: 1, t: T0 })));
    const { effects, counts } = task.step([{ kind: 'events', seq: 1, ingestTime: T0, data: packEvents(events), batch: true }], 0);
    const dead = effects.flatMap((e) => (e.type === 'dead-letter' ? [e] : []));
    expect(dead.map((e) => e.reason)).toEqual(keys.filter((k) => !own.includes(k)).map(() => 'wrong-partition'));
    expect(dead[0]!.message).toMatch(/belongs to partition \d of 4, not to 2/);
    expect(counts.processed).toBe(own.length);
  });
});

describe('per-partition state limits', () => {
  const limited = (limits: Partial<{ maxKeys: number; maxOpenWindows: number; maxStateBytes: number }>) =>
    defineJob({
      name: 'limited',
      source: { partitions: 1 },
      schema: z.object({ k: z.string(), v: z.string(), t: z.number() }),
      key: 'k',
      eventTime: 't',
      window: tumbling(1_000),
      aggregates: { n: count(), values: countBy('v') },
      limits,
    });
  const record = (seq: number, k: string, t: number, v = 'x'): InputRecord => ({ kind: 'events', seq, ingestTime: T0 + 60_000, data: enc.encode(JSON.stringify({ k, v, t: T0 + t })), batch: false });
  const reasons = (effects: readonly Effect[]) => effects.flatMap((e) => (e.type === 'dead-letter' ? [`${e.position.seq}:${e.reason}`] : []));

  it('dead-letters the event of a new key beyond maxKeys with state-limit, and takes new keys again once windows close', () => {
    const task = new PartitionTask(limited({ maxKeys: 2 }), partitionId('limited', 0), OPTIONS, { seq: 0, snapshot: null }, 0);
    const first = task.step([record(1, 'a', 0), record(2, 'b', 10), record(3, 'c', 20), record(4, 'a', 30)], 0);
    expect(reasons(first.effects)).toEqual(['3:state-limit']);
    expect(first.effects.find((e) => e.type === 'dead-letter')).toMatchObject({ message: expect.stringMatching(/limits.maxKeys \(2\)/) });
    // The window [0, 1000) closes: its keys' state is gone and a new key fits again.
    expect(reasons(task.step([record(5, 'b', 2_000), record(6, 'c', 2_010)], 0).effects)).toEqual([]);
  });

  it('dead-letters events that would open more (key, window) entries than maxOpenWindows', () => {
    const task = new PartitionTask(limited({ maxOpenWindows: 3 }), partitionId('limited', 0), OPTIONS, { seq: 0, snapshot: null }, 0);
    const step = task.step([record(1, 'a', 0), record(2, 'b', 10), record(3, 'c', 20), record(4, 'a', 30)], 0);
    // Three keys in [0, 1000): three entries; a fourth key does not fit, a known one still does.
    expect(reasons(step.effects)).toEqual([]);
    expect(reasons(task.step([record(5, 'd', 40), record(6, 'b', 50)], 0).effects)).toEqual(['5:state-limit']);
    expect(task.openWindows).toBe(3);
  });

  it('dead-letters events that would grow the estimated state beyond maxStateBytes, and keeps the estimate across a restore', () => {
    const job = limited({ maxStateBytes: 4_096 });
    const task = new PartitionTask(job, partitionId('limited', 0), OPTIONS, { seq: 0, snapshot: null }, 0);
    const records = Array.from({ length: 200 }, (_, i) => record(i + 1, 'a', i, `value-${i}-${'x'.repeat(20)}`));
    const step = task.step(records, 0);
    const refused = reasons(step.effects).length;
    expect(refused).toBeGreaterThan(0);
    expect(task.stateBytes).toBeLessThanOrEqual(4_096 + 512);
    // Repeated values grow nothing, so they are still counted.
    expect(reasons(task.step([record(201, 'a', 300, `value-0-${'x'.repeat(20)}`)], 0).effects)).toEqual([]);
    const restored = new PartitionTask(job, partitionId('limited', 0), OPTIONS, { seq: 201, snapshot: task.checkpointNow(0).snapshot }, 0);
    expect(restored.stateBytes).toBe(task.stateBytes);
  });
});
