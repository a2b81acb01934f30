import { describe, expect, it } from 'vitest';
import { isLoopbackHost, isOriginAllowed, isSameOrigin } from './origin.js';

describe('origin checks', () => {
  it('allows no Origin, the own origin, and configured origins only', () => {
    expect(isOriginAllowed(undefined, 'localhost:3000', [])).toBe(true);
    expect(isOriginAllowed('http://localhost:3000', 'localhost:3000', [])).toBe(true);
    expect(isOriginAllowed('https://tandem.example.com', 'tandem.example.com', [])).toBe(true);
    expect(isOriginAllowed('http://evil.example', 'localhost:3000', [])).toBe(false);
    expect(isOriginAllowed('http://localhost:3001', 'localhost:3000', [])).toBe(false);
    expect(isOriginAllowed('null', 'localhost:3000', [])).toBe(false);
    expect(isOriginAllowed('https://app.example.com', 'api.example.com', ['https://app.example.com'])).toBe(true);
    expect(isOriginAllowed('HTTPS://APP.example.com', 'api.example.com', ['https://app.example.com'])).toBe(true);
    expect(isOriginAllowed('null', 'localhost:3000', ['*'])).toBe(true);
  });

  it('never takes a malformed Host for the own origin', () => {
    expect(isSameOrigin('http://localhost:3000', undefined)).toBe(false);
    expect(isSameOrigin('http://evil.example', 'evil.example@localhost')).toBe(false);
    expect(isSameOrigin('http://localhost', 'localhost/x')).toBe(false);
    expect(isSameOrigin('not a url', 'localhost')).toBe(false);
  });

  it('recognises loopback hosts only', () => {
    for (const host of ['localhost', 'localhost:3000', '127.0.0.1', '127.0.0.1:3000', '127.1.2.3:80', '[::1]:3000']) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of [
      undefined,
      '',
      'evil.example:3000',
      'localhost.evil.example',
      '127.0.0.1.evil.example',
      'evil.example@127.0.0.1',
      '10.0.0.1',
      '0.0.0.0:3000',
    ]) {
      expect(isLoopbackHost(host), String(host)).toBe(false);
    }
  });
});
