import * as Y from 'yjs';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import type { ShardId } from '@tandem/protocol';
import { REMOTE, toU8, type TandemSocket } from './socket-types.js';

/** Local user shown to others. */
export type PresenceUser = { id: string; name: string; color: string; colorLight?: string };

/**
 * The presence of a session (protocol §9): one y-protocols Awareness per shard (its doc is not a
 * file). Local changes are sent as they happen; the full local state is sent again when the
 * server asks (`presence:requested`) and after every join.
 */
export class PresenceSync {
  readonly awareness = new Awareness(new Y.Doc());
  private readonly detach: () => void;

  constructor(
    private readonly socket: TandemSocket,
    private readonly shardId: ShardId,
    private readonly isClosed: () => boolean,
  ) {
    const onAwareness = (
      { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
      origin: unknown,
    ) => {
      if (origin === REMOTE) return;
      const changed = [...added, ...updated, ...removed];
      this.send(encodeAwarenessUpdate(this.awareness, changed));
    };
    this.awareness.on('update', onAwareness);
    this.detach = () => this.awareness.off('update', onAwareness);
  }

  /** Merges `fields` into the local state. */
  set(fields: Record<string, unknown>): void {
    const current = this.awareness.getLocalState() ?? {};
    this.awareness.setLocalState({ ...current, ...fields });
  }

  /** A `presence:updated` notice. */
  applyRemote(update: Uint8Array | ArrayBuffer): void {
    applyAwarenessUpdate(this.awareness, toU8(update), REMOTE);
  }

  sendFull(): void {
    if (this.awareness.getLocalState() === null) return;
    this.send(encodeAwarenessUpdate(this.awareness, [this.awareness.clientID]));
  }

  /** Tells the others this user is gone (a null state), before the session goes quiet. */
  remove(): void {
    removeAwarenessStates(this.awareness, [this.awareness.clientID], 'local');
  }

  close(): void {
    this.detach();
    this.awareness.destroy();
  }

  private send(update: Uint8Array): void {
    if (this.isClosed() || !this.socket.connected) return;
    this.socket.emit('presence:update', { shardId: this.shardId, update });
  }
}
