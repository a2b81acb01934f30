import { Adapter, type BroadcastOptions } from 'socket.io-adapter';

/** socket.io-adapter's `MessageType.BROADCAST` (a const enum in its typings). */
const BROADCAST = 3;

type ClusterAdapterInstance = Adapter & {
  /** ClusterAdapter's fire-and-forget publish (it logs failures itself). */
  publish(message: { type: number; data: unknown }): void;
};

/**
 * Wraps a socket.io cluster adapter factory (the Redis adapters) so that a broadcast reaches this
 * instance's own sockets first and is published to the other instances right after.
 *
 * socket.io's ClusterAdapter awaits Redis's reply to the publish before it writes to any local
 * socket (it wants the publish's offset, which only connection-state recovery uses, and recovery
 * is off here). For an edit that is a second Redis round trip, after the one that stored it,
 * before any collaborator on the same instance sees it; under load that queueing was the largest
 * part of the edit latency. The order in which each socket receives events does not change, nor
 * what the other instances receive.
 */
export function localFirst<F extends (...args: never[]) => unknown>(factory: F): F {
  const wrapped = function (this: unknown, nsp: unknown): unknown {
    // socket.io calls the factory with `new`; the Redis adapters' factories return the instance.
    const adapter = new (factory as unknown as new (nsp: unknown) => ClusterAdapterInstance)(nsp);
    if (typeof adapter.publish !== 'function') return adapter;
    const publishFirst = adapter.broadcast.bind(adapter);
    adapter.broadcast = (packet: Parameters<Adapter['broadcast']>[0], opts: BroadcastOptions) => {
      if (opts.flags?.local === true) return publishFirst(packet, opts);
      Adapter.prototype.broadcast.call(adapter, packet, opts);
      adapter.publish({
        type: BROADCAST,
        data: { packet, opts: { rooms: [...opts.rooms], except: [...(opts.except ?? [])], flags: opts.flags } },
      });
    };
    return adapter;
  };
  return wrapped as unknown as F;
}
