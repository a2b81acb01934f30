import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { GeneratorUsage } from './jobs.js';

/** The generator's own CPU and event-loop delay over a window: is the generator the bottleneck? */
export class UsageMeter {
  private cpu: NodeJS.CpuUsage | undefined;
  private startedAt = 0;
  private histogram: IntervalHistogram | undefined;

  start(): void {
    this.cpu = process.cpuUsage();
    this.startedAt = performance.now();
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
  }

  stop(): GeneratorUsage {
    const cpu = process.cpuUsage(this.cpu);
    const wallMs = performance.now() - this.startedAt;
    this.histogram?.disable();
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const cpuPercent = Math.round((cpuSeconds * 100000) / Math.max(1, wallMs)) / 1;
    const p99 = (this.histogram?.percentile(99) ?? 0) / 1e6;
    const max = (this.histogram?.max ?? 0) / 1e6;
    return {
      cpuSeconds: Math.round(cpuSeconds * 100) / 100,
      cpuPercent: Math.round(cpuPercent),
      // The histogram counts from its 10 ms resolution: subtract it to get the lag.
      eventLoopDelayP99Ms: Math.max(0, Math.round((p99 - 10) * 10) / 10),
      eventLoopDelayMaxMs: Math.max(0, Math.round((max - 10) * 10) / 10),
      rssMiB: Math.round(process.memoryUsage().rss / 1048576),
      bottleneck: cpuPercent >= 85 || p99 - 10 >= 50,
    };
  }
}
