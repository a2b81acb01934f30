import { describe, expect, it } from 'vitest';
import { SyncPacer, SyncPacerState } from './sync-pacer.js';

/** Hands out `n` starts at `now`, committing each. */
function take(pacer: SyncPacer, now: number, n: number, spaced = true): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const at = pacer.next(now, { spaced });
    pacer.commit(at);
    out.push(at);
  }
  return out;
}

describe('SyncPacer', () => {
  const limiter = { max: 10, durationMs: 10_000 };

  it('starts the first job at once and spaces the next ones a limiter slot apart', () => {
    const pacer = new SyncPacer(limiter);
    expect(take(pacer, 0, 3)).toEqual([0, 1000, 2000]);
    expect(take(pacer, 5000, 1)).toEqual([5000]);
  });

  it('starts full jobs at once, up to the limit of a window', () => {
    const pacer = new SyncPacer(limiter);
    expect(take(pacer, 0, 12, false)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10_000, 10_000]);
  });

  it('under a steady demand of three jobs per 2 s tick, gives one start per slot and never exceeds a window', () => {
    const pacer = new SyncPacer(limiter);
    const starts: number[] = [];
    for (let tick = 0; tick < 60; tick++) {
      const now = tick * 2000;
      // A tick takes the slots that start before the next tick.
      for (let k = 0; k < 3; k++) {
        const at = pacer.next(now);
        if (at - now >= 2000) break;
        pacer.commit(at);
        starts.push(at);
      }
    }
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBe(1000);
    for (const s of starts) expect(starts.filter((x) => x >= s && x < s + 10_000).length).toBeLessThanOrEqual(10);
  });

  it('keeps a window within the limit when full and spaced jobs mix', () => {
    const pacer = new SyncPacer(limiter);
    const starts = [...take(pacer, 0, 8, false), ...take(pacer, 0, 4)];
    expect(starts.slice(8)).toEqual([1000, 2000, 10_000, 10_000]);
  });

  it('starts the jobs a full window held back together when it closes', () => {
    const small = new SyncPacer({ max: 4, durationMs: 4000 });
    take(small, 0, 4, false);
    expect(take(small, 100, 4)).toEqual([4000, 4000, 4000, 4000]);
    // That window is full in turn.
    expect(take(small, 4000, 1)).toEqual([8000]);
  });

  it('takes over the starts another pacer gave (another instance led the ticks)', () => {
    const leader = new SyncPacer(limiter);
    take(leader, 0, 2);
    const next = new SyncPacer(limiter);
    next.restore(SyncPacerState.parse(JSON.parse(JSON.stringify(leader.state()))));
    expect(take(next, 1500, 1)).toEqual([2000]);
  });

  it('does not count an uncommitted start', () => {
    const pacer = new SyncPacer({ max: 2, durationMs: 1000 });
    expect(pacer.next(0)).toBe(0);
    expect(pacer.next(0)).toBe(0);
    pacer.commit(0);
    expect(pacer.next(0)).toBe(500);
  });

  it('forgets starts older than a window', () => {
    const pacer = new SyncPacer(limiter);
    take(pacer, 0, 10, false);
    expect(pacer.next(0, { spaced: false })).toBe(10_000);
    expect(pacer.next(30_000)).toBe(30_000);
  });
});
