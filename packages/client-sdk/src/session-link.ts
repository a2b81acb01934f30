import type { Ack, ClientPayload, ClientToServerEvents, ShardId } from '@tandem/protocol';
import type { AckData } from './socket-types.js';
import type { EmitSessionEvent } from './session-events.js';

/**
 * What the parts of a ShardSession (its open files, its queue of file operations) need from the
 * session that owns them: the shard, the connection and join state, requests, and its events.
 */
export interface SessionLink {
  readonly shardId: ShardId;
  /** The user may change files (the last join said so). */
  canWrite(): boolean;
  isConnected(): boolean;
  /** Joined and connected: requests for the shard may be sent. */
  isJoined(): boolean;
  /** leave() was called. */
  isClosed(): boolean;
  /** Sends a request and waits for its ack (rejects at once while disconnected, or after the ack timeout). */
  request<E extends keyof ClientToServerEvents>(event: E, payload: ClientPayload<E>): Promise<Ack<AckData<E>>>;
  /** The server no longer counts this socket as joined (`NOT_JOINED`): join again, with backoff. */
  lostJoin(): void;
  /** Something the status is computed from changed. */
  updateStatus(): void;
  emit: EmitSessionEvent;
}
