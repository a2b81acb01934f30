import { execFileSync } from 'node:child_process';
import { sampleProcess } from '../proc.js';
import { GeneratorProcess } from '../generator-process.js';
import { adminToken, BENCH_JWT_SECRET } from '../targets/jwt.js';
import { createShards } from '../targets/tandem-rest.js';
import { startHocuspocus, startRelay, startTandem, type Deployment } from '../targets/deployments.js';
import type { BenchContext } from '../context.js';
import type { ScenarioResult } from '../results.js';
import type { TargetName } from './fanout-scenarios.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function serverRss(d: Deployment): number {
  return d.pids().reduce((sum, pid) => sum + (sampleProcess(pid)?.rssBytes ?? 0), 0);
}

function redisUsedMemory(redisUrl: string): number | null {
  try {
    const u = new URL(redisUrl);
    const out = execFileSync('redis-cli', ['-h', u.hostname, '-p', u.port || '6379', 'info', 'memory']).toString();
    const m = /used_memory:(\d+)/.exec(out);
    return m === null ? null : Number(m[1]);
  } catch {
    // No redis-cli: unknown.
    return null;
  }
}

/**
 * Idle connections: 1,000 then 5,000 clients, each joined to its own shard (room), doing nothing.
 * Server RSS at each step gives the memory of an added connection; connect time is per client
 * (connect + join). RSS is read after a pause so the servers settle.
 */
export async function idleScenario(
  ctx: BenchContext,
  targets: TargetName[],
  emit: (r: ScenarioResult) => void,
): Promise<void> {
  const checkpoints = ctx.quick ? [100, 300] : [1000, 5000];
  const total = checkpoints[checkpoints.length - 1]!;
  for (const target of targets) {
    ctx.log(`idle ${checkpoints.join('→')} ${target}`);
    const deployment =
      target === 'tandem'
        ? await startTandem(ctx, { name: 'idle' })
        : target === 'relay'
          ? await startRelay(ctx)
          : await startHocuspocus(ctx, { name: 'idle' });
    const generator = new GeneratorProcess();
    try {
      const token = adminToken();
      let setupMs = 0;
      let rooms: string[];
      if (deployment.kind === 'tandem') {
        const t = performance.now();
        rooms = await createShards(deployment.urls[0]!, token, total, 'static', 16);
        setupMs = Math.round(performance.now() - t);
      } else {
        rooms = Array.from({ length: total }, (_, i) => `idle-${i}`);
      }
      await sleep(ctx.quick ? 500 : 3000);
      const rss: number[] = [serverRss(deployment)];
      const redisMem: Array<number | null> = [redisUsedMemory(ctx.redisUrl)];
      const result = await generator.idle(
        {
          kind: 'idle',
          target: deployment.kind,
          urls: deployment.urls,
          secret: BENCH_JWT_SECRET,
          rooms,
          checkpoints,
          connectConcurrency: 50,
        },
        async () => {
          // Long enough for V8's memory reducer to give back what the joins left as garbage.
          await sleep(ctx.quick ? 500 : 10_000);
          rss.push(serverRss(deployment));
          redisMem.push(redisUsedMemory(ctx.redisUrl));
        },
      );
      const first = checkpoints[0]!;
      const perAdded = (rss[rss.length - 1]! - rss[1]!) / (total - first);
      const redisFirst = redisMem[1];
      const redisLast = redisMem[redisMem.length - 1];
      const connected = result.checkpoints.reduce((n, c) => Math.max(n, c.connected), 0);
      const failed = result.checkpoints.reduce((n, c) => n + c.failed, 0);
      const last = result.checkpoints[result.checkpoints.length - 1]!;
      emit({
        scenario: 'idle',
        case: `${checkpoints.join('→')} connections`,
        target: deployment.label,
        ok: failed === 0 && result.disconnects === 0,
        generator: result.generator,
        extra: {
          serverRssMiB: rss.map((b) => Math.round(b / 1048576)),
          serverKiBPerAddedConnection: Math.round(perAdded / 1024),
          serverKiBPerConnectionAtMax: Math.round((rss[rss.length - 1]! - rss[0]!) / total / 1024),
          ...(deployment.kind === 'tandem' && redisFirst != null && redisLast != null
            ? { redisKiBPerAddedConnection: Math.round((redisLast - redisFirst) / (total - first) / 1024) }
            : {}),
          connected,
          failed,
          connectMs: result.checkpoints.map((c) => c.connectMs),
          connectAllSeconds: Math.round(last.elapsedMs / 100) / 10,
          ...(setupMs > 0 ? { shardSetupSeconds: Math.round(setupMs / 100) / 10 } : {}),
        },
        notes: [
          ...(result.disconnects > 0 ? [`${result.disconnects} disconnects`] : []),
          ...(failed > 0 ? [`${failed} connections failed`] : []),
        ],
      });
    } finally {
      generator.stop();
      await deployment.stop();
    }
  }
}
