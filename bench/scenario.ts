// What a benchmark scenario says about itself, and which scenarios there are. bench/RESULTS.md is
// rendered from these descriptions and bench/results.json alone, so the prose lives next to the code
// that measures and the figures come only from runs.
import { chaosRecoveryScenario } from './chaos-recovery.ts';
import { clusterThroughputScenario } from './cluster-throughput.ts';
import { engineSnapshotScenario } from './engine-snapshot.ts';
import { engineWindowsScenario } from './engine-windows.ts';
import { hostChaosRecoveryScenario } from './host-chaos-recovery.ts';
import { hostsSoakScenario } from './hosts-soak.ts';
import { nexmarkScenario } from './nexmark.ts';
import { producerScenario } from './producer.ts';
import { soakScenario } from './soak.ts';
import { recoveryScenario } from './recovery.ts';
import type { Figure, Series } from './results-file.ts';
import { resultLatencyScenario } from './result-latency.ts';
import { sinkThroughputScenario } from './sink-throughput.ts';

/** A bound the mission sets on a figure. */
export interface Target {
  readonly op: '>=' | '<=' | '<';
  readonly value: number;
}

export interface FigureSpec {
  /** The figure's name in bench/results.json, e.g. "engine.tumbling.events_per_s". */
  readonly name: string;
  readonly unit: string;
  /** One line: what the figure is. */
  readonly label: string;
  readonly target?: Target;
}

export interface ScenarioDescription {
  /** As `npm run bench -- <name>` takes it. */
  readonly name: string;
  readonly title: string;
  /**
   * Markdown, a paragraph or two: what is measured and how (workload, setup, what a figure is made of).
   * Only facts that hold on any machine: the figures of a run belong in results.json.
   */
  readonly description: string;
  readonly figures: readonly FigureSpec[];
}

/** What a run returns: its figures, and for a long run the values it sampled over time. */
export type ScenarioOutcome = Figure[] | { figures: Figure[]; series: Series[] };

/** A scenario module's export: its description and the function that measures. */
export interface Scenario extends ScenarioDescription {
  readonly run: (log: (line: string) => void) => ScenarioOutcome | Promise<ScenarioOutcome>;
  /** Runs only when named (`npm run bench -- soak`): it takes too long for every `npm run bench`. */
  readonly optIn?: boolean;
}

/** What `npm run bench` runs, in this order. */
export const SCENARIOS: readonly Scenario[] = [
  engineWindowsScenario,
  engineSnapshotScenario,
  clusterThroughputScenario,
  resultLatencyScenario,
  recoveryScenario,
  sinkThroughputScenario,
  producerScenario,
  nexmarkScenario,
  chaosRecoveryScenario,
  hostChaosRecoveryScenario,
  soakScenario,
  hostsSoakScenario,
];

/**
 * Scenarios the mission sets targets for that have no module yet, so the summary shows every target,
 * measured or not. A scenario written for one of these replaces its entry here with its module's.
 */
export const PLANNED_SCENARIOS: readonly ScenarioDescription[] = [
];
