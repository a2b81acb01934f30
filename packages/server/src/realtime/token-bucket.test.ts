import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

/** A clock the test moves by hand. */
function manualClock(startMs = 1_000) {
  let now = startMs;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function takeAll(bucket: TokenBucket, max = 10_000): number {
  let taken = 0;
  while (taken < max && bucket.take()) taken++;
  return taken;
}

describe('TokenBucket', () => {
  it('starts full: a burst of `burst` events passes, the next is refused', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(10, 5, clock.now);
    expect(takeAll(bucket)).toBe(5);
    expect(bucket.take()).toBe(false);
  });

  it('refills `ratePerSecond` tokens per second of the injected clock', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(10, 5, clock.now);
    takeAll(bucket);
    clock.advance(99);
    expect(bucket.take()).toBe(false);
    clock.advance(1);
    expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
    clock.advance(300);
    expect(takeAll(bucket)).toBe(3);
  });

  it('keeps fractions of a token between calls', () => {
    // Steps of 1/8 token: exact in binary floating point, so the test does not depend on rounding.
    const clock = manualClock();
    const bucket = new TokenBucket(4, 1, clock.now);
    expect(bucket.take()).toBe(true);
    for (let i = 0; i < 7; i++) {
      clock.advance(31.25);
      expect(bucket.take()).toBe(false);
    }
    clock.advance(31.25);
    expect(bucket.take()).toBe(true);
  });

  it('never holds more than `burst` tokens, however long it was idle', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(100, 3, clock.now);
    takeAll(bucket);
    clock.advance(3_600_000);
    expect(takeAll(bucket)).toBe(3);
  });

  it('a refused event costs nothing: refusals do not delay the next token', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(1, 1, clock.now);
    takeAll(bucket);
    for (let i = 0; i < 7; i++) {
      clock.advance(125);
      expect(bucket.take()).toBe(false);
    }
    clock.advance(125);
    expect(bucket.take()).toBe(true);
  });

  it('uses performance.now when no clock is given', () => {
    const bucket = new TokenBucket(1, 2);
    expect(takeAll(bucket)).toBe(2);
    expect(bucket.take()).toBe(false);
  });
});
