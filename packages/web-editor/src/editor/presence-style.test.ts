import { describe, expect, it } from 'vitest';
import { FALLBACK_COLOR, renderableState, safeColor, safeName } from './presence-style.js';

describe('presence fields others control (issue 12 item 7)', () => {
  it('lets only hex colours through to CSS', () => {
    expect(safeColor('#2563eb')).toBe('#2563eb');
    expect(safeColor('#2563eb33')).toBe('#2563eb33');
    expect(safeColor('#abc')).toBe('#abc');
    for (const bad of [
      'red;position:fixed;inset:0;background-image:url(https://evil.test/x)',
      'red',
      'url(x)',
      '#12345',
      '#2563eb;',
      'expression(alert(1))',
      '',
      42,
      null,
      undefined,
      { toString: () => '#fff' },
    ]) {
      expect(safeColor(bad)).toBe(FALLBACK_COLOR);
    }
  });

  it('keeps names printable and short', () => {
    expect(safeName('Ada Lovelace')).toBe('Ada Lovelace');
    expect(safeName('evil\u202Egpj.exe')).toBe('evilgpj.exe');
    expect(safeName('a\u200Bb\nc')).toBe('abc');
    expect(safeName('x'.repeat(500))).toHaveLength(64);
    expect(safeName('\u200B')).toBe('Anonymous');
    expect(safeName(7)).toBe('Anonymous');
  });

  it('makes the user fields of a remote awareness state safe for y-codemirror.next', () => {
    const state = renderableState({
      fileId: 'f',
      cursor: { anchor: 1 },
      user: { name: 'Mallory\u202E', color: 'red;background-image:url(x)', colorLight: 'blue;top:0' },
    });
    expect(state).toEqual({
      fileId: 'f',
      cursor: { anchor: 1 },
      user: { name: 'Mallory', color: FALLBACK_COLOR, colorLight: `${FALLBACK_COLOR}33` },
    });
    const fine = { user: { name: 'Ada', color: '#2563eb', colorLight: '#2563eb33' } };
    expect(renderableState(fine)).toEqual(fine);
    expect(renderableState({ cursor: null })).toEqual({ cursor: null });
  });
});
