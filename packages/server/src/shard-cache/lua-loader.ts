import { readFileSync } from 'node:fs';

/**
 * Reads the Lua scripts of lua/ and assembles each with its includes. A line
 * `-- @include <name>` in a script (or in an include) is replaced by lua/includes/<name>.lua,
 * placed before the code that includes it and at most once per script, so every include
 * defines its functions before they are used. Nothing is read until a script is first used;
 * each script is assembled once per process.
 */
const LUA_DIR = new URL('./lua/', import.meta.url);
const INCLUDE = /^-- @include ([a-z0-9-]+)\s*$/;
const assembled = new Map<string, string>();

/** The assembled source of lua/<name>.lua. */
export function luaSource(name: string): string {
  let source = assembled.get(name);
  if (source === undefined) {
    source = assemble(name);
    assembled.set(name, source);
  }
  return source;
}

function assemble(name: string): string {
  const included = new Set<string>();
  const parts: string[] = [];
  const visit = (file: string): void => {
    const body: string[] = [];
    for (const line of read(file).split('\n')) {
      const include = INCLUDE.exec(line)?.[1];
      if (include === undefined) {
        body.push(line);
      } else if (!included.has(include)) {
        included.add(include);
        visit(`includes/${include}.lua`);
      }
    }
    parts.push(body.join('\n'));
  };
  visit(`${name}.lua`);
  return parts.join('\n');
}

function read(file: string): string {
  const url = new URL(file, LUA_DIR);
  try {
    return readFileSync(url, 'utf8');
  } catch (error) {
    throw new Error(`Lua script ${file} not found at ${url.pathname} (does the build copy shard-cache/lua?)`, {
      cause: error,
    });
  }
}
