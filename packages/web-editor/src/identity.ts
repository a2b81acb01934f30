import { readToken } from './session-token.js';

/** How this user appears to others: awareness `user` field, as y-codemirror.next reads it. */
export type Identity = { name: string; color: string; colorLight: string };

const NAME_KEY = 'tandem.name';
const COLOR_KEY = 'tandem.color';

/** Distinct, readable on light and dark backgrounds. */
export const COLORS = [
  '#e11d48',
  '#2563eb',
  '#16a34a',
  '#d97706',
  '#9333ea',
  '#0891b2',
  '#db2777',
  '#65a30d',
  '#ea580c',
  '#4f46e5',
];
const ANIMALS = [
  'Otter',
  'Heron',
  'Lynx',
  'Panda',
  'Koala',
  'Falcon',
  'Badger',
  'Gecko',
  'Walrus',
  'Marten',
  'Ibis',
  'Yak',
];

/** Names that many people share (dev and share-link tokens): made unique per tab. */
const GENERIC_NAMES = new Set(['Developer', 'Guest', 'dev']);

/**
 * The name chosen in this browser, else the token's `name` claim (made distinct when it is a
 * shared one such as "Guest"), and a colour kept per tab so two tabs of one person differ.
 */
export function loadIdentity(token: string): Identity {
  const claimed = readToken(token)?.name;
  let name = localStorage.getItem(NAME_KEY) ?? claimed ?? 'Anonymous';
  if (localStorage.getItem(NAME_KEY) === null && GENERIC_NAMES.has(name)) {
    name = sessionStorage.getItem(NAME_KEY) ?? `${name} ${pick(ANIMALS)}`;
    sessionStorage.setItem(NAME_KEY, name);
  }
  let color = sessionStorage.getItem(COLOR_KEY);
  if (color === null || !COLORS.includes(color)) {
    color = COLORS[hash(name) % COLORS.length] ?? pick(COLORS);
    sessionStorage.setItem(COLOR_KEY, color);
  }
  return withColor({ name, color, colorLight: '' }, color);
}

/** The identity in another colour (kept for this tab). */
export function withColor(identity: Identity, color: string): Identity {
  sessionStorage.setItem(COLOR_KEY, color);
  return { ...identity, color, colorLight: `${color}33` };
}

/**
 * A colour nobody else in the room uses, when `mine` is taken; null when `mine` is free (or
 * every colour is taken). The earlier arrival keeps a contested colour: callers pass only the
 * colours of clients that have priority.
 */
export function freeColor(mine: string, taken: ReadonlySet<string>): string | null {
  if (!taken.has(mine)) return null;
  return COLORS.find((c) => !taken.has(c)) ?? null;
}

function hash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) >>> 0;
  return h;
}

/** Remembers the display name for this browser. */
export function saveName(name: string): void {
  localStorage.setItem(NAME_KEY, name);
}

function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}
