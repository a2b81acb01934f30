/**
 * Summarises V8 CPU profiles (`--cpu-prof`, e.g. from `npm run bench -- --profile DIR`): the top
 * functions by self time, over all profiles given, optionally only the samples between `--from`
 * and `--to` seconds after each profile's start (the steady window of a run, without its start-up
 * and drain).
 *
 *   node --import tsx packages/bench/src/profile-summary.ts DIR/*.cpuprofile [--top 25] [--from 8 --to 28]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

type Node = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
};
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };

/** Seconds after a profile's start: only samples inside [fromS, toS] count. */
export type SampleWindow = { fromS?: number; toS?: number };

export function summarizeProfiles(files: string[], top = 25, window: SampleWindow = {}): string {
  const self = new Map<string, number>();
  let total = 0;
  const fromUs = (window.fromS ?? 0) * 1e6;
  const toUs = (window.toS ?? Infinity) * 1e6;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    let at = 0;
    for (let i = 0; i < profile.samples.length; i++) {
      const node = byId.get(profile.samples[i]!);
      const dt = profile.timeDeltas[i] ?? 0;
      at += dt;
      if (node === undefined || at < fromUs || at > toUs) continue;
      const f = node.callFrame;
      const where = f.url === '' ? '' : ` ${shorten(f.url)}:${f.lineNumber + 1}`;
      const name = `${f.functionName || '(anonymous)'}${where}`;
      self.set(name, (self.get(name) ?? 0) + dt);
      total += dt;
    }
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  const lines = ['| self ms | % | function |', '| ---: | ---: | --- |'];
  for (const [name, us] of rows)
    lines.push(`| ${(us / 1000).toFixed(0)} | ${((us / total) * 100).toFixed(1)} | \`${name}\` |`);
  return `${files.length} profiles, ${(total / 1e6).toFixed(1)} s sampled\n\n${lines.join('\n')}`;
}

function shorten(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length);
  const pk = url.indexOf('packages/');
  return pk !== -1 ? url.slice(pk) : basename(url);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
    allowPositionals: true,
  });
  const window: SampleWindow = {
    ...(values.from === undefined ? {} : { fromS: Number(values.from) }),
    ...(values.to === undefined ? {} : { toS: Number(values.to) }),
  };
  process.stdout.write(
    `${summarizeProfiles(positionals, values.top === undefined ? 25 : Number(values.top), window)}\n`,
  );
}
