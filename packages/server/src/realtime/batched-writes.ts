/**
 * One system call per event and receiver instead of one per packet.
 *
 * socket.io writes an event with binary data as a header packet plus one packet per attachment
 * (a `file:edited` is two), each through engine.io's `write`, which sends the first to the
 * websocket at once and the second only after the first write's callback — two frames in two
 * system calls, a tick apart. Here the engine.io connection's flush waits for the end of the
 * current synchronous run (a microtask), so every packet written in that run goes to the
 * transport together, and the websocket's TCP socket is corked while they are framed, so they
 * leave in one `writev`. Order is unchanged: packets still leave the write buffer in order.
 *
 * engine.io's `flush` is not public API: a connection that does not look as expected (another
 * transport, another engine.io version) is left as it is.
 */

type Corkable = { cork(): void; uncork(): void };

type EngineConnection = {
  flush?: () => void;
  transport?: { name?: string; socket?: { _socket?: Partial<Corkable> } };
};

const batched = new WeakSet<object>();

/** Batches the writes of one engine.io connection (idempotent). Returns whether it could. */
export function batchWrites(connection: object): boolean {
  if (batched.has(connection)) return true;
  const conn = connection as EngineConnection;
  const flush = conn.flush;
  if (typeof flush !== 'function') return false;
  batched.add(connection);
  let scheduled = false;
  const flushNow = () => {
    scheduled = false;
    const tcp = conn.transport?.name === 'websocket' ? conn.transport.socket?._socket : undefined;
    const corked = typeof tcp?.cork === 'function' && typeof tcp.uncork === 'function';
    if (corked) tcp.cork!();
    try {
      flush.call(conn);
    } finally {
      if (corked) tcp.uncork!();
    }
  };
  conn.flush = () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(flushNow);
  };
  return true;
}
