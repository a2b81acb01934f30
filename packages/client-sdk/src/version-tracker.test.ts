import { describe, expect, it } from 'vitest';
import { VersionTracker } from './version-tracker.js';

describe('VersionTracker', () => {
  it('advances over versions seen in any order and reports a gap while one is missing', () => {
    const v = new VersionTracker(10);
    v.see(12);
    expect(v.upTo).toBe(10);
    expect(v.hasGap()).toBe(true);
    v.see(11);
    expect(v.upTo).toBe(12);
    expect(v.hasGap()).toBe(false);
    v.see(5);
    expect(v.upTo).toBe(12);
  });

  it('treats an expected version above what was seen as a gap', () => {
    const v = new VersionTracker(3);
    v.expect(3);
    expect(v.hasGap()).toBe(false);
    v.expect(4);
    expect(v.hasGap()).toBe(true);
    v.see(4);
    expect(v.hasGap()).toBe(false);
  });

  it('keeps versions above a rejoin and drops everything when the clock went back', () => {
    const v = new VersionTracker(1);
    v.see(5);
    v.see(7);
    v.reset(5);
    expect(v.upTo).toBe(5);
    expect(v.hasGap()).toBe(true);
    v.see(6);
    expect(v.upTo).toBe(7);
    v.see(9);
    v.expect(12);
    v.reset(2);
    expect(v.upTo).toBe(2);
    expect(v.hasGap()).toBe(false);
  });
});
