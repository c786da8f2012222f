// What a benchmark scenario says about itself, and which scenarios there are. bench/RESULTS.md is
// rendered from these descriptions and bench/results.json alone, so the prose lives next to the code
// that measures and the figures come only from runs.
import { chaosRecoveryScenario } from './chaos-recovery.ts';
import { clusterThroughputScenario } from './cluster-throughput.ts';
import { engineSnapshotScenario } from './engine-snapshot.ts';
import { engineWindowsScenario } from './engine-windows.ts';
import { recoveryScenario } from './recovery.ts';
import type { Figure } from './results-file.ts';
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

/** A scenario module's export: its description and the function that measures. */
export interface Scenario extends ScenarioDescription {
  readonly run: (log: (line: string) => void) => Figure[] | Promise<Figure[]>;
}

/** What `npm run bench` runs, in this order. */
export const SCENARIOS: readonly Scenario[] = [
  engineWindowsScenario,
  engineSnapshotScenario,
  clusterThroughputScenario,
  resultLatencyScenario,
  recoveryScenario,
  sinkThroughputScenario,
  chaosRecoveryScenario,
];

/**
 * Scenarios the mission sets targets for that have no module yet, so the summary shows every target,
 * measured or not. A scenario written for one of these replaces its entry here with its module's.
 */
export const PLANNED_SCENARIOS: readonly ScenarioDescription[] = [
  {
    name: 'producer',
    title: 'Producer throughput',
    description: 'Events per second one producer publishes to a job\'s input stream, each acknowledged and with its message id, as `shardflow produce` does.',
    figures: [{ name: 'producer.events_per_s', unit: 'events/s', label: 'acknowledged events published per second', target: { op: '>=', value: 100_000 } }],
  },
  {
    name: 'soak',
    title: 'Soak',
    description: 'A long run of the local cluster under steady input, to show that state and memory stay flat: the NATS store at the end against the start, and the largest worker RSS.',
    figures: [
      { name: 'soak.store_bytes_end_over_start', unit: 'ratio', label: 'NATS store bytes at the end / at the start', target: { op: '<=', value: 1.1 } },
      { name: 'soak.worker_rss_max_mb', unit: 'MB', label: 'largest worker RSS during the run' },
    ],
  },
  {
    name: 'nexmark',
    title: 'Nexmark q5 on the cluster',
    description:
      'The `nexmark-q5` job (jobs/examples/nexmark-q5.ts: bids from a Nexmark-shaped generator, bids per auction in 10 s windows sliding by 2 s) on the cluster, so its throughput can be set beside the published Nexmark figures of other engines.',
    figures: [],
  },
];
