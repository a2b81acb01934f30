/** A growable list of samples (ms) with percentiles; cheap enough for a million deliveries. */
export class Samples {
  private data = new Float64Array(1024);
  private n = 0;

  add(value: number): void {
    if (this.n === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.n++] = value;
  }

  get count(): number {
    return this.n;
  }

  summary(): LatencySummary {
    if (this.n === 0) return { count: 0, p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null };
    const sorted = this.data.slice(0, this.n).sort();
    const at = (q: number) => round(sorted[Math.min(this.n - 1, Math.floor(q * this.n))] ?? 0);
    return { count: this.n, p50Ms: at(0.5), p90Ms: at(0.9), p99Ms: at(0.99), maxMs: round(sorted[this.n - 1] ?? 0) };
  }
}

export type LatencySummary = {
  count: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
};

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function summarize(values: readonly number[]): LatencySummary {
  const s = new Samples();
  for (const v of values) s.add(v);
  return s.summary();
}
