import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isErrorCode } from '@tandem/protocol';
import { luaSource } from './lua-loader.js';

const dir = new URL('./lua/', import.meta.url);
const scripts = readdirSync(dir)
  .filter((f) => f.endsWith('.lua'))
  .map((f) => f.slice(0, -4));

describe('Lua scripts', () => {
  it.each(scripts)('%s assembles with each include once, before its use', (name) => {
    const source = luaSource(name);
    expect(source).not.toMatch(/@include/);
    const code = source.replace(/--\[\[[\s\S]*?\]\]/g, '').replace(/--.*$/gm, '');
    for (const fn of code.matchAll(/^local function (\w+)/gm)) {
      const defined = code.indexOf(`local function ${fn[1]}(`);
      expect(code.indexOf(`local function ${fn[1]}(`, defined + 1)).toBe(-1);
      // Every call comes after the definition.
      expect(code.indexOf(`${fn[1]}(`)).toBe(defined + 'local function '.length);
    }
  });

  it.each(scripts)('%s names its keys, arguments and reply, and refuses only with our error codes', (name) => {
    const text = readFileSync(new URL(`${name}.lua`, dir), 'utf8');
    expect(text).toMatch(/^--\[\[[\s\S]*KEYS\[1\][\s\S]*Reply:[\s\S]*\]\]/);
    for (const m of text.matchAll(/redis\.error_reply\('([A-Z_]+)'\)/g)) {
      expect(['NOT_LOADED', 'NOT_INDEXED', 'BACKLOG'].includes(m[1]!) || isErrorCode(m[1]!), m[1]).toBe(true);
    }
    expect(text).not.toMatch(/\berror\(|redis\.error_reply\((?!')/);
  });

  it('says which file is missing', () => {
    expect(() => luaSource('no-such-script')).toThrow(/no-such-script\.lua not found/);
  });
});
