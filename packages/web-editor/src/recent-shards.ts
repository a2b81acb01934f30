/** Shards opened in this browser, newest first (localStorage; ten at most). */
export type RecentShard = { id: string; name: string; templateId: string; openedAt: number };

const KEY = 'tandem.recent';
const MAX = 10;

export function listRecent(): RecentShard[] {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) ?? '[]') as unknown;
    return Array.isArray(value) ? value.filter(isRecentShard) : [];
  } catch {
    // A corrupt entry is dropped rather than breaking the home page.
    return [];
  }
}

export function rememberShard(shard: Omit<RecentShard, 'openedAt'>): void {
  const rest = listRecent().filter((s) => s.id !== shard.id);
  localStorage.setItem(KEY, JSON.stringify([{ ...shard, openedAt: Date.now() }, ...rest].slice(0, MAX)));
}

export function forgetShard(id: string): void {
  localStorage.setItem(KEY, JSON.stringify(listRecent().filter((s) => s.id !== id)));
}

function isRecentShard(value: unknown): value is RecentShard {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['id'] === 'string' && typeof v['name'] === 'string' && typeof v['templateId'] === 'string';
}
