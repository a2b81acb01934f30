import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    // getconf missing: Linux's USER_HZ is 100 everywhere we run.
    return 100;
  }
})();

export type ProcSample = { pid: number; cpuSeconds: number; mainThreadCpuSeconds: number; rssBytes: number };

/** utime + stime in seconds from a /proc stat line. */
function cpuOf(stat: string): number {
  // The command name is in parentheses and may hold spaces: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * utime + stime (seconds) of one process (all threads) and of its main thread (the event loop;
 * the rest is worker threads, GC helpers and libuv's pool), and RSS (bytes); null when gone.
 */
export function sampleProcess(pid: number): ProcSample | null {
  try {
    const cpuSeconds = cpuOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const mainThreadCpuSeconds = cpuOf(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    return { pid, cpuSeconds, mainThreadCpuSeconds, rssBytes: rss === null ? 0 : Number(rss[1]) * 1024 };
  } catch {
    // The process exited between listing and reading.
    return null;
  }
}

/** A process and all its descendants (cluster workers), via /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i]!;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      // Exited: no children to list.
      continue;
    }
    for (const tid of tasks) {
      try {
        const children = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').trim();
        if (children !== '') for (const c of children.split(' ')) out.push(Number(c));
      } catch {
        // The thread ended while listing.
      }
    }
  }
  return out;
}

/**
 * Measures CPU seconds and RSS of a set of processes over a window: `start()` then `stop()`.
 * Peak RSS is sampled every `everyMs` in between.
 */
export class CpuWindow {
  private readonly startCpu = new Map<number, number>();
  private readonly startMain = new Map<number, number>();
  private readonly peakRss = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;

  constructor(
    private readonly groups: Record<string, () => number[]>,
    private readonly everyMs = 1000,
  ) {}

  start(): void {
    this.startedAt = performance.now();
    for (const pids of Object.values(this.groups)) {
      for (const pid of pids()) {
        const s = sampleProcess(pid);
        if (s === null) continue;
        this.startCpu.set(pid, s.cpuSeconds);
        this.startMain.set(pid, s.mainThreadCpuSeconds);
      }
    }
    this.sampleRss();
    this.timer = setInterval(() => this.sampleRss(), this.everyMs);
    this.timer.unref();
  }

  private sampleRss(): void {
    for (const pids of Object.values(this.groups)) {
      for (const pid of pids()) {
        const s = sampleProcess(pid);
        if (s !== null) this.peakRss.set(pid, Math.max(this.peakRss.get(pid) ?? 0, s.rssBytes));
      }
    }
  }

  /** CPU seconds and RSS per group (RSS summed over the group's processes). */
  stop(): { wallSeconds: number; groups: Record<string, GroupUsage> } {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.sampleRss();
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    const groups: Record<string, GroupUsage> = {};
    for (const [name, pids] of Object.entries(this.groups)) {
      const usage: GroupUsage = { cpuSeconds: 0, mainThreadCpuSeconds: 0, rssBytes: 0, peakRssBytes: 0, processes: [] };
      for (const pid of pids()) {
        const s = sampleProcess(pid);
        if (s === null) continue;
        const cpu = s.cpuSeconds - (this.startCpu.get(pid) ?? s.cpuSeconds);
        usage.cpuSeconds += cpu;
        usage.mainThreadCpuSeconds += s.mainThreadCpuSeconds - (this.startMain.get(pid) ?? s.mainThreadCpuSeconds);
        usage.rssBytes += s.rssBytes;
        usage.peakRssBytes += this.peakRss.get(pid) ?? s.rssBytes;
        usage.processes.push({
          pid,
          cpuSeconds: Math.round(cpu * 100) / 100,
          rssMiB: Math.round(s.rssBytes / 1048576),
        });
      }
      usage.cpuSeconds = Math.round(usage.cpuSeconds * 100) / 100;
      usage.mainThreadCpuSeconds = Math.round(usage.mainThreadCpuSeconds * 100) / 100;
      groups[name] = usage;
    }
    return { wallSeconds, groups };
  }
}

export type GroupUsage = {
  cpuSeconds: number;
  /** Of which the processes' main threads (event loops). */
  mainThreadCpuSeconds: number;
  rssBytes: number;
  peakRssBytes: number;
  processes: Array<{ pid: number; cpuSeconds: number; rssMiB: number }>;
};

/** The Redis server's pid (INFO server → process_id), so its CPU counts with the servers'. */
export function redisPid(redisUrl: string): number | null {
  try {
    const u = new URL(redisUrl);
    const out = execFileSync('redis-cli', ['-h', u.hostname, '-p', u.port || '6379', 'info', 'server']).toString();
    const m = /process_id:(\d+)/.exec(out);
    return m === null ? null : Number(m[1]);
  } catch {
    // No redis-cli: Redis CPU is then reported as unknown.
    return null;
  }
}
