import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { ShardId } from '@tandem/protocol';
import { historyAuthorsKey } from '../redis/index.js';

/** Someone who changed a shard. */
export type HistoryAuthor = { userId: string; name: string };

/** The notes a checkpoint read: who, and the note token to clear only that note. */
export type AuthorNotes = { authors: HistoryAuthor[]; tokens: Map<string, string> };

/** Authors are kept this long after their last change when no checkpoint consumes them. */
const AUTHORS_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * A note as the edit script writes it (in the same step as the edit): the author's field and its
 * value, a token unique to this note followed by the author's name.
 */
export type AuthorNote = { userId: string; value: string; ttlMs: number };

/** Note tokens: unique per process (a random prefix) and per note in it (a counter). */
const TOKEN_PREFIX = randomBytes(6).toString('base64url');
let tokens = 0;

/** Deletes each listed field only while it still holds the value read (a later note wins). */
const CLEAR_SCRIPT = `
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n`;

/**
 * Who changed each shard since its last checkpoint, in Redis (any instance notes, the checkpoint
 * — in whichever process records it — consumes).
 */
export class HistoryAuthors {
  constructor(private readonly deps: { redis: Redis | Cluster; keyPrefix: string }) {}

  /** Notes a change by this author (one HSET and a TTL refresh, pipelined). */
  async note(shardId: ShardId, author: HistoryAuthor): Promise<void> {
    const key = historyAuthorsKey(this.deps.keyPrefix, shardId);
    const { value } = this.noteOf(author);
    await this.deps.redis.pipeline().hset(key, author.userId, value).pexpire(key, AUTHORS_TTL_MS).exec();
  }

  /** A note of this author for a script to write (an edit notes its author in its own step). */
  noteOf(author: HistoryAuthor): AuthorNote {
    return {
      userId: author.userId,
      value: `${TOKEN_PREFIX}.${(tokens++).toString(36)}\n${author.name}`,
      ttlMs: AUTHORS_TTL_MS,
    };
  }

  /** Everyone noted since the last clear. */
  async read(shardId: ShardId): Promise<AuthorNotes> {
    const all = await this.deps.redis.hgetall(historyAuthorsKey(this.deps.keyPrefix, shardId));
    const authors: HistoryAuthor[] = [];
    const tokens = new Map<string, string>();
    for (const [userId, value] of Object.entries(all)) {
      const cut = value.indexOf('\n');
      authors.push({ userId, name: cut === -1 ? userId : value.slice(cut + 1) });
      tokens.set(userId, value);
    }
    return { authors, tokens };
  }

  /** Clears the notes read, except those rewritten since (their author changed the shard again). */
  async clear(shardId: ShardId, notes: AuthorNotes): Promise<void> {
    if (notes.tokens.size === 0) return;
    await this.deps.redis.eval(
      CLEAR_SCRIPT,
      1,
      historyAuthorsKey(this.deps.keyPrefix, shardId),
      ...[...notes.tokens].flat(),
    );
  }
}
