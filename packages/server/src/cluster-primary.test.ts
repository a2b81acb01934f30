import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { takeWorkersFlag } from './cluster-primary.js';

describe('takeWorkersFlag', () => {
  it('defaults to one process and leaves other arguments alone', () => {
    expect(takeWorkersFlag(['--role', 'api'])).toEqual({ workers: 1, args: ['--role', 'api'] });
  });

  it('takes a count, auto, or nothing (one per core)', () => {
    expect(takeWorkersFlag(['--workers', '3', '--insecure-dev'])).toEqual({ workers: 3, args: ['--insecure-dev'] });
    expect(takeWorkersFlag(['--workers=2'])).toEqual({ workers: 2, args: [] });
    expect(takeWorkersFlag(['--workers', 'auto']).workers).toBe(availableParallelism());
    expect(takeWorkersFlag(['--workers']).workers).toBe(availableParallelism());
    expect(takeWorkersFlag(['--workers', '--role', 'all'])).toEqual({
      workers: availableParallelism(),
      args: ['--role', 'all'],
    });
  });

  it('refuses what is not a worker count', () => {
    for (const bad of ['0', '-1', '1.5', 'many', '257']) {
      expect(() => takeWorkersFlag(['--workers', bad]), bad).toThrow(/--workers takes a whole number/);
    }
  });
});
