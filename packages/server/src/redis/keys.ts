import { isShardId, type FileId, type ShardId } from '@tandem/protocol';

/**
 * Every Redis key name lives here. Per shard: `meta` (hash: loaded marker, name, template,
 * dependencies, firstDirtyAt), `tree` (hash fileId → path; a rename changes one field),
 * `doc:<fileId>` (list of Yjs updates, oldest first; after population or compaction the first
 * is the merged state), `dirty` (zset fileId → shard clock of its last unsynced change),
 * `members` (zset `<instance>:<socket>` → expiry ms), `member-instances` (zset instance → the
 * latest expiry of its socket members: which instances have sockets in the shard, see
 * member-add.lua), `lock` (populate lock), `seq` (the shard
 * clock), `gen` (hash fileId → compaction generation), `docbytes` (hash fileId → bytes held),
 * `basebytes` (hash fileId → bytes of the state a load or a sync left at the head of its list),
 * `ops` (hash opId → the JSON reply of a tree operation, for idempotent retries; expires 24 h
 * after its last write), `ops-pending` (the entries of `ops` not yet written to the database
 * with a tree, see IShardRepository.writeTree; same expiry), `paths` (zset, all scores 0, members `<folded path>\0<fileId>`: the
 * index of case-folded paths that collision checks and folder moves query by prefix), `kinds`
 * (hash fileId → `binary` for a binary file, whose update list holds its bytes as one entry;
 * absent for text files).
 * Shard keys are `<prefix>:shard:{<shardId>}:<part>`: the
 * braces are a hash tag, so all keys of one shard map to one Redis Cluster slot and the
 * multi-key scripts work on a cluster.
 */
export type ShardKeyPart =
  | 'meta'
  | 'tree'
  | 'dirty'
  | 'members'
  | 'member-instances'
  | 'lock'
  | 'seq'
  | 'gen'
  | 'docbytes'
  | 'basebytes'
  | 'ops'
  | 'ops-pending'
  | 'paths'
  | 'kinds'
  | { doc: FileId };

export type ShardKeys = {
  meta: string;
  tree: string;
  dirty: string;
  members: string;
  memberInstances: string;
  lock: string;
  seq: string;
  gen: string;
  docbytes: string;
  basebytes: string;
  ops: string;
  opsPending: string;
  paths: string;
  kinds: string;
  doc(fileId: FileId): string;
  /** Prefix shared by all doc keys (for scans). */
  docPrefix: string;
};

export function shardKeys(prefix: string, shardId: ShardId): ShardKeys {
  const base = `${prefix}:shard:{${shardId}}`;
  return {
    meta: `${base}:meta`,
    tree: `${base}:tree`,
    dirty: `${base}:dirty`,
    members: `${base}:members`,
    memberInstances: `${base}:member-instances`,
    lock: `${base}:lock`,
    seq: `${base}:seq`,
    gen: `${base}:gen`,
    docbytes: `${base}:docbytes`,
    basebytes: `${base}:basebytes`,
    ops: `${base}:ops`,
    opsPending: `${base}:ops-pending`,
    paths: `${base}:paths`,
    kinds: `${base}:kinds`,
    doc: (fileId) => `${base}:doc:${fileId}`,
    docPrefix: `${base}:doc:`,
  };
}

/** Sorted set of open (cached) shards → last activity time: what the sweep and scheduler scan. */
export function openShardsKey(prefix: string): string {
  return `${prefix}:open-shards`;
}

/** Sorted set of open shards nobody is in → when they became empty (eviction after a grace period). */
export function emptySinceKey(prefix: string): string {
  return `${prefix}:empty-since`;
}

/**
 * Sorted set of shards that may have unsynced changes → a mark counter: the instance that changed
 * a shard increments it, the scheduler removes a shard only when it found nothing unsynced and
 * the counter did not move meanwhile. What the scheduler inspects instead of every open shard.
 */
export function dirtyShardsKey(prefix: string): string {
  return `${prefix}:dirty-shards`;
}

/**
 * Hash of live server instances: instanceId → the Redis time (ms) by which every member that
 * instance registered has expired unless it heartbeats again. An entry in the past means the
 * instance died: the scheduler then inspects every open shard once, which prunes its members.
 */
export function instancesKey(prefix: string): string {
  return `${prefix}:instances`;
}

/** The last scheduler scan (JSON), so every instance reports the same cluster-wide gauges. */
export function lastScanKey(prefix: string): string {
  return `${prefix}:last-scan`;
}

/**
 * The starts the scheduler gave its latest sync jobs (JSON, the last limiter window; see
 * SyncPacer): whichever instance leads the next tick paces from them.
 */
export function syncStartsKey(prefix: string): string {
  return `${prefix}:sync-starts`;
}

/** The scheduler's leader lock: one scheduler tick at a time in the whole cluster. */
export function schedulerLockKey(prefix: string): string {
  return `${prefix}:scheduler-lock`;
}

/** Prefix of the REST rate-limit counters (one string key per user and limit, with a TTL). */
export function restRateLimitPrefix(prefix: string): string {
  return `${prefix}:rate-limit:`;
}

/**
 * Hash of a shard's presence (awareness) client ids → the member (`<instance>:<socket>`) that owns
 * each, so a socket on one instance cannot speak for a client id held on another. Its own hash tag
 * (same slot as the shard's keys); expires unless refreshed by the members' heartbeat.
 */
export function presenceOwnersKey(prefix: string, shardId: ShardId): string {
  return `${prefix}:presence:{${shardId}}:owners`;
}

/**
 * Hash of who changed a shard since its last checkpoint: userId → `<token>\n<name>` (the token
 * changes with every note, so a checkpoint clears only the notes it read). Its own hash tag (same
 * slot as the shard's keys); consumed by each checkpoint, and expires 30 days after the last note.
 */
export function historyAuthorsKey(prefix: string, shardId: ShardId): string {
  return `${prefix}:history:{${shardId}}:authors`;
}

/** Parses a shard key back into its shard id and part; throws on anything else. */
export function parseShardKey(prefix: string, key: string): { shardId: ShardId; part: ShardKeyPart } {
  const head = `${prefix}:shard:{`;
  if (!key.startsWith(head)) throw new Error(`not a shard key: ${key}`);
  const close = key.indexOf('}:', head.length);
  if (close === -1) throw new Error(`malformed shard key: ${key}`);
  const shardId = key.slice(head.length, close);
  if (!isShardId(shardId)) throw new Error(`malformed shard id in key: ${key}`);
  const rest = key.slice(close + 2);
  const simple = [
    'meta',
    'tree',
    'dirty',
    'members',
    'member-instances',
    'lock',
    'seq',
    'gen',
    'docbytes',
    'basebytes',
    'ops',
    'paths',
    'kinds',
  ] as const;
  const found = simple.find((p) => p === rest);
  if (found !== undefined) return { shardId, part: found };
  if (rest.startsWith('doc:') && /^[A-Za-z0-9_-]{8,64}$/.test(rest.slice(4))) {
    return { shardId, part: { doc: rest.slice(4) as FileId } };
  }
  throw new Error(`unknown shard key part: ${key}`);
}

/**
 * One live share link of a shard (string: the link's JSON record, expiring with the link):
 * `<prefix>:share-link:{<shardId>}:<linkId>`. Its absence means the link was revoked or expired.
 */
export function shareLinkKey(prefix: string, shardId: ShardId, linkId: string): string {
  return `${prefix}:share-link:{${shardId}}:${linkId}`;
}

/** Sorted set of a shard's share links, linkId → expiry (ms since the epoch): what listing reads. */
export function shareLinksKey(prefix: string, shardId: ShardId): string {
  return `${prefix}:share-links:{${shardId}}`;
}
