import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChaosReport, FaultResult } from './suite.js';

/** The result table, in Markdown. */
export function formatTable(results: readonly FaultResult[]): string {
  const rows = [
    ['fault', 'edits acknowledged', 'edits lost', 'clients converged', 'time to recover (s)', 'notes'],
    ...results.map((r) => [
      r.passed ? r.title : `**FAIL** ${r.title}`,
      String(r.acknowledged),
      String(r.lost),
      r.convergedShards === r.totalShards
        ? `yes (${r.totalShards}/${r.totalShards} shards)`
        : `**no** (${r.convergedShards}/${r.totalShards} shards)`,
      r.recoverSeconds === null ? '—' : r.recoverSeconds.toFixed(1),
      r.notes.join('; ').replaceAll('|', '\\|'),
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const [head, ...body] = rows;
  return [line(head ?? []), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...body.map(line)].join('\n');
}

/** A one-paragraph summary under the table. */
export function formatSummary(report: ChaosReport): string {
  const m = report.machine;
  return [
    `${report.passed ? 'PASS' : 'FAIL'}: ${report.results.filter((r) => r.passed).length}/${report.settings.faults.length} faults passed; ` +
      `${report.acknowledged} of ${report.typed} typed tokens acknowledged in the whole run ` +
      `(steady load: ${report.typedPerSecond} tokens/s; load generator event-loop delay p99 ${report.loadEventLoopP99Ms} ms).`,
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}. ` +
      `${report.settings.instances} API instances + 1 worker (${report.settings.entry}), ${report.settings.clients} clients on ${report.settings.shards} shards; setup ${report.setupSeconds.toFixed(1)} s.`,
  ].join('\n');
}

/** Writes the report as `<dir>/chaos-<timestamp>.json`; returns the path. */
export function writeReport(report: ChaosReport, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `chaos-${report.startedAt.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
