// Runs the chaos script (scripts/chaos.ts) as `npm run chaos` would, prints what it printed, and reads its report.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noViolations } from '../../scripts/chaos/audit';

const root = join(__dirname, '..', '..');

export interface ChaosReport {
  payments: number;
  engine: string;
  topology: { temporal: string[]; workers: string[]; apis: string[] };
  totalViolations: number;
  violations: Record<string, string[]>;
  chaosEvents: { what: string }[];
  restarts: Record<string, number>;
  /** Where each supervised process ended (running, stopped...). */
  processes: Record<string, string>;
  /** Payments created + callbacks taken per API process since its last start. */
  replicaTraffic: Record<string, number>;
  counts: { payments: number; byStatus: Record<string, number> };
  callbackDeliveries: { total: number; notAccepted: number };
  perChannel: Record<string, { payments: number; totalViolations: number; byStatus: Record<string, number> }>;
}

/** Every invariant the audit checks, none broken. */
export const NO_VIOLATIONS = noViolations();

export function runChaos(args: string[], timeoutMs: number): { status: number | null; report: ChaosReport } {
  const report = join(mkdtempSync(join(tmpdir(), 'chaos-report-')), 'report.json');
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(root, 'scripts', 'chaos.ts'), ...args, '--report', report],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: timeoutMs },
  );
  process.stdout.write(run.stdout);
  return { status: run.status, report: JSON.parse(readFileSync(report, 'utf8')) as ChaosReport };
}
