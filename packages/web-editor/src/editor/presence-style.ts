/**
 * Presence fields other people control, made safe to render. The server refuses presence whose
 * `user.color` is not a hex colour or whose `user.name` is not printable (issue 12 item 7), but the
 * editor does not rely on it: colours reach CSS only through these checks, never concatenated
 * into a style string as they arrive (`red;position:fixed;…;background-image:url(X)` once drew an
 * overlay over every collaborator's editor and made their browsers fetch the attacker's URL).
 */

const HEX_COLOR_RE = /^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/;
// Control, format (bidi, zero-width), line/paragraph separators, lone surrogates.
const UNPRINTABLE_RE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const MAX_NAME_LENGTH = 64;

/** Grey, for anyone whose colour is missing or not a hex colour. */
export const FALLBACK_COLOR = '#888888';

/** `value` when it is a CSS hex colour (#rgb, #rgba, #rrggbb, #rrggbbaa), else `fallback`. */
export function safeColor(value: unknown, fallback = FALLBACK_COLOR): string {
  return typeof value === 'string' && HEX_COLOR_RE.test(value) ? value : fallback;
}

/** A display name: printable characters only, at most 64, "Anonymous" when nothing is left. */
export function safeName(value: unknown): string {
  if (typeof value !== 'string') return 'Anonymous';
  const cleaned = [...value.replace(UNPRINTABLE_RE, '')].slice(0, MAX_NAME_LENGTH).join('').trim();
  return cleaned === '' ? 'Anonymous' : cleaned;
}

/**
 * A remote awareness state with its `user` fields made safe, for renderers that put them into
 * CSS or the DOM themselves (y-codemirror.next builds caret and selection styles from
 * `user.color` and `user.colorLight`).
 */
export function renderableState(state: Record<string, unknown>): Record<string, unknown> {
  const user = state['user'];
  if (typeof user !== 'object' || user === null) return state;
  const fields = user as Record<string, unknown>;
  const color = safeColor(fields['color']);
  return {
    ...state,
    user: {
      ...fields,
      name: safeName(fields['name']),
      color,
      colorLight: safeColor(fields['colorLight'], `${color}33`),
    },
  };
}
