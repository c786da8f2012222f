// bench/RESULTS.md as a rendering of results.json: the summary of targets, the sections, determinism.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatValue, renderResults, type Described } from './render-results.ts';
import { formatResults, readResults, recordRun, type ResultsFile } from './results-file.ts';

const machine = { cores: 2, cpu: 'AMD EPYC', memory_gb: 24, node: 'v20.20.2', nats_server: 'v2.9.10' };

const described: Described = {
  scenarios: [
    {
      name: 'engine-windows',
      title: 'Window engine alone',
      description: 'Keyed count over pre-built events.',
      figures: [
        { name: 'engine.tumbling.events_per_s', unit: 'events/s', label: 'tumbling 1 s', target: { op: '>=', value: 1_000_000 } },
        { name: 'engine.sliding.events_per_s', unit: 'events/s', label: 'sliding 5 s every 1 s', target: { op: '>=', value: 2_000_000 } },
        { name: 'engine.session.events_per_s', unit: 'events/s', label: 'session, gap 2 s' },
      ],
    },
    {
      name: 'result-latency',
      title: 'Result latency',
      description: 'Watermark to readable result.',
      figures: [{ name: 'latency.window_result.p99_ms', unit: 'ms', label: 'p99', target: { op: '<', value: 250 } }],
    },
  ],
  planned: [{ name: 'producer', title: 'Producer throughput', description: 'Acknowledged publishes.', figures: [{ name: 'producer.events_per_s', unit: 'events/s', label: 'events/s', target: { op: '>=', value: 100_000 } }] }],
};

function results(): ResultsFile {
  return {
    runs: {
      'engine-windows': {
        command: 'npm run bench -- engine-windows',
        at: '2026-12-03T00:00:00.000Z',
        machine,
        figures: [
          { name: 'engine.tumbling.events_per_s', value: 4_433_485, unit: 'events/s' },
          { name: 'engine.sliding.events_per_s', value: 716_402, unit: 'events/s' },
          { name: 'engine.session.events_per_s', value: 3_570_136, unit: 'events/s' },
          { name: 'engine.hopping.events_per_s', value: 12, unit: 'events/s' },
        ],
      },
    },
  };
}

function summaryRows(md: string): string[] {
  const section = md.split('## Targets')[1]!.split('\n## ')[0]!;
  return section.split('\n').filter((l) => l.startsWith('| `'));
}

describe('rendering bench/RESULTS.md from results.json', () => {
  it('lists a met and a missed target in the summary, with value, target and scenario', () => {
    const rows = summaryRows(renderResults(results(), described));
    expect(rows).toContain('| `engine.tumbling.events_per_s` | 4,433,485 events/s | >= 1,000,000 events/s | yes | engine-windows |');
    expect(rows).toContain('| `engine.sliding.events_per_s` | 716,402 events/s | >= 2,000,000 events/s | no | engine-windows |');
  });

  it('shows targets of scenarios not run or not written yet as not measured, and figures without a target nowhere in the summary', () => {
    const rows = summaryRows(renderResults(results(), described));
    expect(rows).toContain('| `latency.window_result.p99_ms` | not measured | < 250 ms | — | result-latency |');
    expect(rows).toContain('| `producer.events_per_s` | not measured | >= 100,000 events/s | — | producer |');
    expect(rows.some((r) => r.includes('engine.session'))).toBe(false);
  });

  it('gives each scenario its description, the command, time and machine of its run, and every figure it recorded', () => {
    const md = renderResults(results(), described);
    expect(md).toContain('Run: `npm run bench -- engine-windows`, 2026-12-03T00:00:00.000Z, on 2 cores (AMD EPYC), 24 GB, node v20.20.2, nats-server v2.9.10.');
    expect(md).toContain('| sliding 5 s every 1 s | 716,402 events/s | >= 2,000,000 events/s (missed) | `engine.sliding.events_per_s` |');
    expect(md).toContain('| (not described in bench/engine-windows.ts) | 12 events/s |  | `engine.hopping.events_per_s` |');
    expect(md).toContain('Planned: there is no `bench/producer.ts` yet.');
    expect(md.startsWith('# Benchmark results\n')).toBe(true);
    expect(md).toMatch(/do not edit/);
  });

  it('renders the same document from the same results, whatever the order of runs and figures', () => {
    const a = renderResults(results(), described);
    const shuffled = results();
    shuffled.runs['engine-windows']!.figures.reverse();
    const reparsed = JSON.parse(formatResults(shuffled)) as ResultsFile;
    expect(renderResults(results(), described)).toBe(a);
    expect(renderResults(shuffled, described)).toBe(a);
    expect(renderResults(reparsed, described)).toBe(a);
  });

  it('formats ratios bare, booleans as yes or no, and other figures with separators and their unit', () => {
    expect(formatValue(0.736, 'ratio (with / without checkpoints)')).toBe('0.736');
    expect(formatValue(1, 'bool')).toBe('yes');
    expect(formatValue(2_012_308, 'bytes')).toBe('2,012,308 bytes');
    expect(formatValue(48.56, 'ms')).toBe('48.56 ms');
  });
});

// results-file.ts has no test file of its own (not among the files this change may add); its one
// rule the document relies on is checked here.
describe('recording a run in results.json', () => {
  it('replaces that scenario\'s run and keeps the others', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shardflow-results-'));
    try {
      const path = join(dir, 'results.json');
      const run = (value: number) => ({ command: 'npm run bench -- x', at: '2026-12-03T00:00:00.000Z', machine, figures: [{ name: 'x.v', value, unit: 'ms' }] });
      recordRun(path, 'b', run(1));
      recordRun(path, 'a', run(2));
      recordRun(path, 'b', run(3));
      const file = readResults(path);
      expect(Object.keys(file.runs)).toEqual(['a', 'b']);
      expect(file.runs.a!.figures[0]!.value).toBe(2);
      expect(file.runs.b!.figures[0]!.value).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
