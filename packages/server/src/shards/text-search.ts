import type { FileId, SearchMatch } from '@tandem/protocol';

/** Longest preview line a match carries (characters of the line around the match). */
export const PREVIEW_CHARS = 240;

export type SearchOptions = {
  /** Plain text (not a pattern). */
  query: string;
  caseSensitive: boolean;
  /** Most matches to return; one more found sets `truncated`. */
  limit: number;
};

/**
 * Finds every occurrence of `query` in the files, in the order the files come, line by line:
 * plain text, optionally case-insensitive (by lower-casing both sides, which keeps UTF-16 offsets
 * for every character whose lower case has the same length; the rare others are matched as they
 * are). Work is linear in the text read, and stops at the first match past `limit`.
 */
export async function searchFiles(
  files: AsyncIterable<{ id: FileId; path: string; content: string }>,
  options: SearchOptions,
): Promise<{ matches: SearchMatch[]; truncated: boolean; filesSearched: number }> {
  const needle = options.caseSensitive ? options.query : options.query.toLowerCase();
  const matches: SearchMatch[] = [];
  let filesSearched = 0;
  for await (const file of files) {
    filesSearched++;
    const found = searchText(file.content, needle, options.caseSensitive, options.limit + 1 - matches.length);
    for (const m of found) matches.push({ fileId: file.id, path: file.path, ...m });
    if (matches.length > options.limit)
      return { matches: matches.slice(0, options.limit), truncated: true, filesSearched };
  }
  return { matches, truncated: false, filesSearched };
}

/** Matches of `needle` (already lower-cased unless case-sensitive) in `text`, at most `max`. */
export function searchText(
  text: string,
  needle: string,
  caseSensitive: boolean,
  max: number,
): Array<Omit<SearchMatch, 'fileId' | 'path'>> {
  const out: Array<Omit<SearchMatch, 'fileId' | 'path'>> = [];
  if (needle === '' || max <= 0) return out;
  let lineStart = 0;
  let line = 1;
  while (lineStart <= text.length && out.length < max) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = text.length;
    const raw = text.slice(lineStart, lineEnd);
    const lineText = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const haystack = caseSensitive ? lineText : lowerSameLength(lineText);
    let from = 0;
    for (;;) {
      const at = haystack.indexOf(needle, from);
      if (at === -1 || out.length >= max) break;
      const { preview, offset } = previewOf(lineText, at, needle.length);
      out.push({ line, column: at + 1, length: needle.length, preview, previewColumn: at - offset + 1 });
      from = at + Math.max(needle.length, 1);
    }
    lineStart = lineEnd + 1;
    line++;
  }
  return out;
}

/** Lower case of `text` when that keeps every offset; else `text` as it is. */
function lowerSameLength(text: string): string {
  const lower = text.toLowerCase();
  return lower.length === text.length ? lower : text;
}

/** The line cut to PREVIEW_CHARS around the match: `offset` is where the preview starts in the line. */
function previewOf(lineText: string, at: number, length: number): { preview: string; offset: number } {
  if (lineText.length <= PREVIEW_CHARS) return { preview: lineText, offset: 0 };
  const before = Math.max(0, Math.floor((PREVIEW_CHARS - length) / 3));
  const offset = Math.max(0, Math.min(at - before, lineText.length - PREVIEW_CHARS));
  return { preview: lineText.slice(offset, offset + PREVIEW_CHARS), offset };
}
