import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

/** One client's entry in an awareness update: its clock and its state (JSON text; `null` when gone). */
export type AwarenessEntry = { clock: number; state: string };

/** Most entries one awareness update may hold, and most kept per shard between two relays. */
export const MAX_AWARENESS_ENTRIES = 1000;

/** Longest `user.name` relayed, in characters. */
export const MAX_PRESENCE_NAME_LENGTH = 64;

/** The number of entries an awareness update announces (0 when it does not even say). */
export function entryCount(update: Uint8Array): number {
  try {
    return decoding.readVarUint(decoding.createDecoder(update));
  } catch {
    // Not even a count: decodeAwarenessUpdate reports it as malformed.
    return 0;
  }
}

/** Decodes a y-protocols awareness update; null when malformed (states must be JSON unless told not to check). */
export function decodeAwarenessUpdate(
  update: Uint8Array,
  options: { parseStates?: boolean } = {},
): Map<number, AwarenessEntry> | null {
  try {
    const decoder = decoding.createDecoder(update);
    const count = decoding.readVarUint(decoder);
    if (count > MAX_AWARENESS_ENTRIES) return null;
    const out = new Map<number, AwarenessEntry>();
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      const state = decoding.readVarString(decoder);
      if (options.parseStates !== false) JSON.parse(state);
      out.set(clientId, { clock, state });
    }
    if (decoding.hasContent(decoder)) return null;
    return out;
  } catch {
    // Truncated varints, bad UTF-8 or bad JSON all mean a malformed update.
    return null;
  }
}

/** Encodes entries as one y-protocols awareness update. */
export function encodeAwarenessUpdate(entries: ReadonlyMap<number, AwarenessEntry>): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, entries.size);
  for (const [clientId, { clock, state }] of entries) {
    encoding.writeVarUint(encoder, clientId);
    encoding.writeVarUint(encoder, clock);
    encoding.writeVarString(encoder, state);
  }
  return encoding.toUint8Array(encoder);
}

// A CSS hex colour: #rgb, #rgba, #rrggbb or #rrggbbaa (editors append an alpha for selections).
const HEX_COLOR_RE = /^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/;
// Control, format (bidi, zero-width), line/paragraph separators, lone surrogates.
const UNPRINTABLE_RE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

/**
 * True when the fields collaborators' editors render are safe to relay: `user`, if present, is an
 * object whose `name` is 1–MAX_PRESENCE_NAME_LENGTH printable characters and whose `color` and
 * `colorLight` are hex colours (editors put them into CSS: `red;position:fixed;…` drew a
 * full-page overlay over everyone's editor). `null` (a client leaving) is always fine.
 */
export function isRelayableState(json: string): boolean {
  const state = JSON.parse(json) as unknown;
  if (state === null) return true;
  if (typeof state !== 'object' || Array.isArray(state)) return false;
  if (!Object.hasOwn(state, 'user')) return true;
  const user = (state as { user: unknown }).user;
  if (user === null || user === undefined) return true;
  if (typeof user !== 'object' || Array.isArray(user)) return false;
  const fields = user as Record<string, unknown>;
  if (Object.hasOwn(fields, 'name')) {
    const name = fields['name'];
    if (typeof name !== 'string' || name.trim() === '' || [...name].length > MAX_PRESENCE_NAME_LENGTH) return false;
    if (UNPRINTABLE_RE.test(name)) return false;
  }
  for (const field of ['color', 'colorLight']) {
    if (!Object.hasOwn(fields, field)) continue;
    const value = fields[field];
    if (typeof value !== 'string' || !HEX_COLOR_RE.test(value)) return false;
  }
  return true;
}
