import { describe, expect, it } from 'vitest';
import { browsableUrl, insecureDevBlock, readyLine } from './startup-banner.js';

describe('startup banner', () => {
  it('names the address to open, the real port, and a wildcard host as reachable on loopback', () => {
    expect(readyLine('127.0.0.1', 3000)).toBe('Tandem is running at http://127.0.0.1:3000');
    expect(readyLine('localhost', 41234)).toBe('Tandem is running at http://localhost:41234');
    expect(readyLine('0.0.0.0', 3000)).toBe(
      'Tandem is running at http://127.0.0.1:3000 (listening on all interfaces, 0.0.0.0)',
    );
    expect(browsableUrl('::1', 3000)).toBe('http://[::1]:3000');
    expect(browsableUrl('::', 8080)).toBe('http://[::1]:8080');
  });

  it('frames the development warning as one block, colored only when asked', () => {
    const plain = insecureDevBlock({ secretFile: 'data/dev-secret', color: false });
    const lines = plain.split('\n');
    expect(lines[0]).toMatch(/^\+-+\+$/);
    expect(lines.at(-1)).toBe(lines[0]);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(plain).toContain('NOT FOR PRODUCTION');
    expect(plain).toContain('data/dev-secret');
    expect(plain).toContain('AUTH_JWT_SECRET');
    expect(plain).not.toContain('\u001b[');
    const colored = insecureDevBlock({ secretFile: 'data/dev-secret', color: true });
    expect(colored.startsWith('\u001b[1;33m+')).toBe(true);
    expect(colored.endsWith('+\u001b[0m')).toBe(true);
  });
});
