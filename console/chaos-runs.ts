// The chaos runs of this data folder (`shardflow chaos` writes each into <data dir>/chaos/<scenario>-
// <stamp>/ with report.json and report.html), newest first, for the console's chaos page.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { recoveryStats, type ChaosReport } from '../chaos/report.ts';

export interface ChaosRunSummary {
  id: string;
  scenario: string;
  startedAt: string;
  durationS: number;
  exact: boolean;
  faults: number;
  medianRecoveryMs: number | null;
  maxRecoveryMs: number | null;
  html: boolean;
}

/** Run folders are named by `shardflow chaos`; anything else (a path) is refused. */
const RUN_ID = /^[a-z0-9][a-z0-9-]{0,100}$/;

export function listChaosRuns(dataDir: string, limit = 200): ChaosRunSummary[] {
  const root = join(dataDir, 'chaos');
  if (!existsSync(root)) return [];
  const out: ChaosRunSummary[] = [];
  for (const id of readdirSync(root)) {
    if (!RUN_ID.test(id)) continue;
    const file = join(root, id, 'report.json');
    if (!existsSync(file)) continue;
    try {
      const r = JSON.parse(readFileSync(file, 'utf8')) as ChaosReport;
      const rec = recoveryStats(r.faults);
      out.push({
        id,
        scenario: r.scenario,
        startedAt: r.startedAt,
        durationS: r.durationS,
        exact: r.verdict.exact,
        faults: r.faults.length,
        medianRecoveryMs: rec.medianMs,
        maxRecoveryMs: rec.maxMs,
        html: existsSync(join(root, id, 'report.html')),
      });
    } catch {
      // A report being written, or from another version: left out.
    }
  }
  return out.sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1)).slice(0, limit);
}

/** The HTML report of a run, or undefined. */
export function chaosReportHtml(dataDir: string, id: string): string | undefined {
  if (!RUN_ID.test(id)) return undefined;
  const file = join(dataDir, 'chaos', id, 'report.html');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}
