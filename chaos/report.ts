// The report of a chaos run: one JSON document (for scripts and the benchmark table), a summary for
// the terminal, and a self-contained HTML page whose timeline shows throughput, backlog, workers and
// every fault with its recovery, so a person can see what happened.
import type { Sample } from './monitor.ts';
import type { FaultKind, ScenarioName } from './scenarios.ts';
import type { Verdict } from './verdict.ts';

export interface FaultRecord {
  kind: FaultKind;
  target: string;
  detail: string;
  /** ms after the run started. */
  atMs: number;
  /** ms from the fault to recovery; null when the run ended first. */
  recoveryMs: number | null;
  /** Set when the fault could not be injected (e.g. no leader at that moment). */
  error?: string;
}

export interface ChaosReport {
  scenario: ScenarioName;
  description: string;
  seed: number;
  durationS: number;
  rate: number;
  workers: number;
  coordinators: number;
  natsNodes: number;
  startedAt: string;
  /** ms from the producer stopping until the verdict. */
  drainMs: number;
  faults: FaultRecord[];
  /** Coordinators and workers that exited on their own (restarted by the local cluster). */
  crashes: { id: string; code: number | null; signal: string | null; atMs: number }[];
  verdict: Verdict;
  samples: Sample[];
  /** Samples or log reads that got no answer in time: gaps in the timeline, not in the verdict. */
  unansweredSamples: number;
  dataDir: string;
  /** Terms in which a coordinator acted as leader, and those in which more than one did (split
   *  brain: must be empty), from the coordinators' logs. */
  leaderTerms?: { terms: number; conflicts: { term: number; coordinators: string[] }[] };
  /** Checkpoints that went back to an older lease epoch: an owner writing after it was fenced (must
   *  be empty). */
  epochRegressions?: { partition: number; from: number; to: number; owner: string | null; atMs: number }[];
  /** Idle watermark markers whose watermark is ahead of the time the server stored them: a worker's
   *  clock ran ahead and moved event time forward (must be 0). */
  futureMarkers?: number;
  /** Per worker: partitions and routers it stopped because another worker had taken them over. */
  fenced?: Record<string, number>;
  /** Multi-host runs: the host of every process. */
  hosts?: { id: string; host: string }[];
}

/** Exact results, and no split brain nor fenced writes seen: what a run must show to pass. */
export function runPassed(r: ChaosReport): boolean {
  return r.verdict.exact && (r.leaderTerms?.conflicts.length ?? 0) === 0 && (r.epochRegressions?.length ?? 0) === 0 && (r.futureMarkers ?? 0) === 0;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function recoveryStats(faults: readonly FaultRecord[]): { measured: number; medianMs: number | null; maxMs: number | null } {
  const times = faults.map((f) => f.recoveryMs).filter((t): t is number => t !== null).sort((a, b) => a - b);
  if (times.length === 0) return { measured: 0, medianMs: null, maxMs: null };
  const mid = (times.length - 1) / 2;
  return { measured: times.length, medianMs: Math.round((times[Math.floor(mid)]! + times[Math.ceil(mid)]!) / 2), maxMs: times[times.length - 1]! };
}

export function renderSummary(r: ChaosReport): string {
  const v = r.verdict;
  const stats = recoveryStats(r.faults);
  const lines = [
    `chaos ${r.scenario}: ${r.durationS} s, seed ${r.seed}, ${r.rate} events/s, ${r.workers} workers, ${r.coordinators} coordinators, ${r.natsNodes} NATS node${r.natsNodes > 1 ? 's' : ''}`,
    `  faults         ${r.faults.length}`,
    ...r.faults.map((f) => `    ${seconds(f.atMs).padStart(7)}  ${f.kind.padEnd(20)} ${f.error ? `not injected: ${f.error}` : `${f.detail}; ${f.recoveryMs === null ? 'recovery not seen before the end' : `recovered in ${seconds(f.recoveryMs)}`}`}`),
    `  events in      ${v.input.published} published, ${v.input.inLog} in the log (${v.input.lost} lost, ${v.input.duplicated} stored twice)`,
    `  results        ${v.results.expected} expected, ${v.results.found} found: ${v.results.missing} missing, ${v.results.duplicated} duplicated, ${v.results.wrong} wrong, ${v.results.unexpected} unexpected`,
    ...v.results.examples.map((e) => `                   ${e}`),
    `  late           ${v.late.expected} expected, ${v.late.found} found (${v.late.missing} missing, ${v.late.duplicated} duplicated)`,
    `  dead-lettered  ${v.deadLettered.expected} expected, ${v.deadLettered.found} found (${v.deadLettered.missing} missing, ${v.deadLettered.duplicated} duplicated, ${v.deadLettered.wrongReason} with a wrong reason)`,
    `  recovery       ${stats.measured ? `median ${seconds(stats.medianMs!)}, max ${seconds(stats.maxMs!)} over ${stats.measured} faults` : 'none measured'}`,
    ...(r.crashes.length ? [`  crashes        ${r.crashes.map((c) => `${c.id} at ${seconds(c.atMs)} (${c.signal ?? (c.code === null ? 'a restart failed; tried again' : `exit ${c.code}`)})`).join(', ')}`] : []),
    `  drain          ${seconds(r.drainMs)} after the producer stopped`,
    ...(r.hosts ? [`  hosts          ${[...new Set(r.hosts.map((p) => p.host))].sort().map((h) => `${h}: ${r.hosts!.filter((p) => p.host === h).map((p) => p.id).join(' ')}`).join('; ')}`] : []),
    ...(r.leaderTerms
      ? [`  leaders        ${r.leaderTerms.terms} terms; ${r.leaderTerms.conflicts.length === 0 ? 'one leader acted in each' : `SPLIT BRAIN in ${r.leaderTerms.conflicts.map((c) => `term ${c.term} (${c.coordinators.join(', ')})`).join(', ')}`}`]
      : []),
    ...(r.epochRegressions
      ? [`  fencing        ${r.epochRegressions.length === 0 ? 'no checkpoint written by a fenced owner' : `${r.epochRegressions.length} checkpoints went back to an older epoch: ${r.epochRegressions.slice(0, 3).map((e) => `partition ${e.partition} ${e.from} -> ${e.to}`).join(', ')}`}`]
      : []),
    ...(r.unansweredSamples ? [`  timeline       ${r.unansweredSamples} samples unanswered (gaps in the charts while NATS failed over)`] : []),
    ...(r.futureMarkers ? [`  watermarks     ${r.futureMarkers} idle markers ahead of the server's clock (a worker clock running ahead)`] : []),
    `  verdict        ${v.exact ? 'EXACT: every result equals the oracle, nothing lost, nothing duplicated' : 'NOT EXACT'}`,
  ];
  return lines.join('\n');
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

/** One chart: lines over time (x in s) with the faults drawn across it. */
function chart(title: string, series: Series[], faults: readonly FaultRecord[], endS: number, step = false, numbered = false): string {
  const W = 900;
  const H = 190;
  const left = 56;
  const right = 12;
  const top = 30;
  const bottom = 26;
  const maxY = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const x = (t: number) => left + (t / Math.max(endS, 1)) * (W - left - right);
  const y = (v: number) => top + (1 - v / maxY) * (H - top - bottom);
  const parts: string[] = [`<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${escape(title)}">`, `<text x="${left}" y="14" class="title">${escape(title)}</text>`];
  for (let i = 0; i <= 4; i++) {
    const v = (maxY * i) / 4;
    const label = maxY >= 20 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" class="grid"/><text x="${left - 6}" y="${y(v) + 4}" class="axis" text-anchor="end">${label}</text>`);
  }
  for (let t = 0; t <= endS; t += Math.max(5, Math.ceil(endS / 12 / 5) * 5)) parts.push(`<text x="${x(t)}" y="${H - 8}" class="axis" text-anchor="middle">${t}s</text>`);
  for (const [i, f] of faults.entries()) {
    if (f.error) continue;
    const from = x(f.atMs / 1000);
    if (numbered) parts.push(`<text x="${from}" y="${top - 2}" class="axis" text-anchor="middle">${i + 1}</text>`);
    if (f.recoveryMs !== null) parts.push(`<rect x="${from}" y="${top}" width="${Math.max(1, x((f.atMs + f.recoveryMs) / 1000) - from)}" height="${H - top - bottom}" class="recovery"><title>${escape(`${f.kind} ${f.target}: recovered in ${seconds(f.recoveryMs)}`)}</title></rect>`);
    parts.push(`<line x1="${from}" x2="${from}" y1="${top}" y2="${H - bottom}" class="fault"><title>${escape(`${seconds(f.atMs)} ${f.detail}`)}</title></line>`);
  }
  for (const s of series) {
    const d = s.points
      .map(([t, v], i) => {
        if (i === 0 || !step) return `${i === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`;
        return `H${x(t).toFixed(1)}V${y(v).toFixed(1)}`;
      })
      .join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"/>`);
  }
  parts.push(...series.map((s, i) => `<text x="${W - right - 8 - i * 150}" y="14" class="legend" text-anchor="end" fill="${s.color}">■ ${escape(s.name)}</text>`));
  parts.push('</svg>');
  return parts.join('\n');
}

/** Per-second rate of a cumulative counter, smoothed over about a second. */
function rate(samples: readonly Sample[], pick: (s: Sample) => number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i < samples.length; i++) {
    let j = i - 1;
    while (j > 0 && samples[i]!.atMs - samples[j]!.atMs < 1_000) j--;
    const dt = (samples[i]!.atMs - samples[j]!.atMs) / 1000;
    if (dt > 0) out.push([samples[i]!.atMs / 1000, Math.max(0, (pick(samples[i]!) - pick(samples[j]!)) / dt)]);
  }
  return out;
}

export function renderHtml(r: ChaosReport): string {
  const endS = Math.ceil((r.samples.at(-1)?.atMs ?? r.durationS * 1000) / 1000);
  const throughput = chart(
    'events per second',
    [
      { name: 'stored', color: '#4e79a7', points: rate(r.samples, (s) => s.stored) },
      { name: 'checkpointed (processed)', color: '#59a14f', points: rate(r.samples, (s) => s.checkpointed) },
    ],
    r.faults,
    endS,
    false,
    true,
  );
  const backlog = chart('backlog: events stored, not yet checkpointed', [{ name: 'backlog', color: '#e15759', points: r.samples.map((s) => [s.atMs / 1000, Math.max(0, s.stored - s.checkpointed)]) }], r.faults, endS);
  const members = chart(
    'workers alive, leader term',
    [
      { name: 'workers alive', color: '#f28e2b', points: r.samples.map((s) => [s.atMs / 1000, s.workersAlive]) },
      { name: 'leader term', color: '#76b7b2', points: r.samples.map((s) => [s.atMs / 1000, s.term ?? 0]) },
    ],
    r.faults,
    endS,
    true,
  );
  const v = r.verdict;
  const row = (name: string, cells: (string | number)[]) => `<tr><th>${escape(name)}</th>${cells.map((c) => `<td>${escape(String(c))}</td>`).join('')}</tr>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shardflow chaos: ${escape(r.scenario)} — ${v.exact ? 'exact' : 'NOT exact'}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px auto;max-width:960px;color:#222}
h1{font-size:20px} .ok{color:#2e7d32} .bad{color:#c62828}
table{border-collapse:collapse;margin:12px 0} td,th{border:1px solid #ddd;padding:4px 8px;text-align:right} th{text-align:left;background:#f6f6f6}
td.l{text-align:left}
svg .grid{stroke:#eee} svg .axis{font-size:10px;fill:#777} svg .title{font-size:12px;font-weight:600} svg .legend{font-size:11px}
svg .fault{stroke:#c62828;stroke-width:1.2;stroke-dasharray:3 2} svg .recovery{fill:#c62828;opacity:.08}
</style></head><body>
<h1>shardflow chaos — ${escape(r.scenario)}: <span class="${v.exact ? 'ok' : 'bad'}">${v.exact ? 'EXACT' : 'NOT EXACT'}</span></h1>
<p>${escape(r.description)}. ${r.durationS} s at ${r.rate} events/s, seed ${r.seed}, ${r.workers} workers, ${r.coordinators} coordinators, ${r.natsNodes} NATS node(s); started ${escape(r.startedAt)}. Dashed red lines are the faults, numbered as in the table below; the shaded band after each lasts until it recovered (every partition checkpointed past the fault under a leader).</p>
${throughput}
${backlog}
${members}
<h2>Verdict</h2>
<table>
<tr><th></th><th>expected</th><th>found</th><th>missing</th><th>duplicated</th><th>wrong</th></tr>
${row('window results', [v.results.expected, v.results.found, v.results.missing, v.results.duplicated, v.results.wrong + v.results.unexpected])}
${row('late events (side output)', [v.late.expected, v.late.found, v.late.missing, v.late.duplicated, '—'])}
${row('dead-lettered events', [v.deadLettered.expected, v.deadLettered.found, v.deadLettered.missing, v.deadLettered.duplicated, v.deadLettered.wrongReason])}
${row('input events', [v.input.published, v.input.inLog, v.input.lost, v.input.duplicated, '—'])}
</table>
${v.results.examples.length ? `<ul>${v.results.examples.map((e) => `<li>${escape(e)}</li>`).join('')}</ul>` : ''}
<h2>Faults</h2>
<table>
<tr><th>#</th><th>at</th><th>fault</th><th>target</th><th>what happened</th><th>recovery</th></tr>
${r.faults.map((f, i) => `<tr><td>${i + 1}</td><td>${seconds(f.atMs)}</td><td class="l">${escape(f.kind)}</td><td class="l">${escape(f.target)}</td><td class="l">${escape(f.error ? `not injected: ${f.error}` : f.detail)}</td><td>${f.recoveryMs === null ? '—' : seconds(f.recoveryMs)}</td></tr>`).join('\n')}
</table>
${r.crashes.length ? `<p class="bad">Processes that exited on their own: ${escape(r.crashes.map((c) => `${c.id} at ${seconds(c.atMs)}`).join(', '))}. Their logs are in ${escape(r.dataDir)}/logs.</p>` : ''}
<p>Logs of every process: ${escape(r.dataDir)}/logs. Drain: ${seconds(r.drainMs)} after the producer stopped.</p>
</body></html>
`;
}
