import { execFileSync, spawn } from 'node:child_process';
import { CpuWindow, redisPid, sampleProcess } from '../proc.js';
import { GeneratorProcess } from '../generator-process.js';
import { adminToken, BENCH_JWT_SECRET } from '../targets/jwt.js';
import { createShards } from '../targets/tandem-rest.js';
import { startHocuspocus, startRelay, startTandem, type Deployment } from '../targets/deployments.js';
import type { BenchContext } from '../context.js';
import type { ScenarioResult } from '../results.js';
import type { TargetName } from './fanout-scenarios.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type IdleWindow = {
  seconds: number;
  /** Server processes + Redis, % of one core. */
  cpuPercent: number;
  serverCpuPercent: number;
  redisCpuPercent: number | null;
  /** Commands the servers sent to Redis per second (top level, then run inside Lua scripts). */
  redisCommandsPerSecond: number | null;
  redisLuaCommandsPerSecond: number | null;
  /** Commands in the window by name and key part (`lua …`: run inside a script). */
  redisCommands?: Record<string, number>;
};

/**
 * Counts the Redis commands that touch this run's keys while `during` runs, with MONITOR
 * (commands of other Redis clients do not match the run's key prefix). Top-level commands and
 * those a Lua script runs are counted apart.
 */
async function countRedisCommands(
  redisUrl: string,
  prefix: string,
  during: () => Promise<void>,
): Promise<{ top: number; lua: number; byCommand: Record<string, number> } | null> {
  const u = new URL(redisUrl);
  const monitor = spawn('redis-cli', ['-h', u.hostname, '-p', u.port || '6379', 'monitor'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let top = 0;
  let lua = 0;
  const byCommand: Record<string, number> = {};
  let rest = '';
  let failed = false;
  monitor.on('error', () => {
    failed = true;
  });
  monitor.stdout.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString('latin1')).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.includes(prefix)) continue;
      if (line.includes(' lua]')) lua++;
      else top++;
      // `<time> [<db> <client>] "<command>" "<arg>"…`: the command and the part of the first key.
      const args = line.slice(line.indexOf(']') + 2).split('" "');
      const command = (args[0] ?? '').replace(/^"/, '').toLowerCase();
      const key = args.find((a) => a.includes(prefix)) ?? '';
      const part = key.includes('}:')
        ? key.slice(key.indexOf('}:') + 2).replace(/:.*$/, '')
        : key.slice(prefix.length + 1);
      const name = `${line.includes(' lua]') ? 'lua ' : ''}${command} ${part.replace(/"$/, '')}`;
      byCommand[name] = (byCommand[name] ?? 0) + 1;
    }
  });
  await sleep(300);
  try {
    await during();
  } finally {
    monitor.kill();
  }
  return failed ? null : { top, lua, byCommand };
}

/** Server + Redis CPU and Redis commands over `ms` with every connection idle. */
async function measureIdle(ctx: BenchContext, deployment: Deployment, ms: number): Promise<IdleWindow> {
  const redis = deployment.kind === 'tandem' ? redisPid(ctx.redisUrl) : null;
  const window = new CpuWindow({ servers: () => deployment.pids(), redis: () => (redis === null ? [] : [redis]) });
  let usage: ReturnType<CpuWindow['stop']> | undefined;
  const counted = await countRedisCommands(ctx.redisUrl, ctx.prefix, async () => {
    window.start();
    await sleep(ms);
    usage = window.stop();
  });
  const u = usage!;
  const pct = (s: number) => Math.round((s / u.wallSeconds) * 1000) / 10;
  const server = u.groups['servers']!.cpuSeconds;
  const redisCpu = redis === null ? null : u.groups['redis']!.cpuSeconds;
  return {
    seconds: Math.round(u.wallSeconds * 10) / 10,
    cpuPercent: pct(server + (redisCpu ?? 0)),
    serverCpuPercent: pct(server),
    redisCpuPercent: redisCpu === null ? null : pct(redisCpu),
    redisCommandsPerSecond:
      deployment.kind === 'tandem' && counted !== null ? Math.round((counted.top / u.wallSeconds) * 10) / 10 : null,
    redisLuaCommandsPerSecond:
      deployment.kind === 'tandem' && counted !== null ? Math.round((counted.lua / u.wallSeconds) * 10) / 10 : null,
    ...(counted === null ? {} : { redisCommands: counted.byCommand }),
  };
}

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
  const checkpoints = ctx.idleConnections ?? (ctx.quick ? [100, 300] : [1000, 5000]);
  const total = checkpoints[checkpoints.length - 1]!;
  for (const target of targets) {
    ctx.log(`idle ${checkpoints.join('→')} ${target}`);
    const deployment =
      target === 'tandem'
        ? await startTandem(ctx, { name: 'idle' })
        : target === 'relay'
          ? await startRelay(ctx)
          : await startHocuspocus(ctx, { name: 'idle', persist: target === 'hocuspocus-db' });
    const generator = new GeneratorProcess({ cpus: ctx.cores.generator, profileDir: ctx.generatorProfileDir });
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
      const idle: Array<IdleWindow & { connections: number }> = [];
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
        async (checkpoint) => {
          // Long enough for V8's memory reducer to give back what the joins left as garbage.
          await sleep(ctx.quick ? 500 : 10_000);
          rss.push(serverRss(deployment));
          redisMem.push(redisUsedMemory(ctx.redisUrl));
          idle.push({
            connections: checkpoint.connected,
            ...(await measureIdle(ctx, deployment, ctx.quick ? 1000 : ctx.timing.durationMs)),
          });
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
          // Connections per second of each step alone (the pauses at checkpoints left out).
          joinsPerSecond: result.checkpoints.map((c, i) =>
            Math.round((c.connected - (result.checkpoints[i - 1]?.connected ?? 0)) / (c.stepMs / 1000)),
          ),
          idle,
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
