import type { Socket } from 'socket.io-client';
import type { Ack, AckData, ClientPayload, ClientToServerEvents, ServerToClientEvents } from '@tandem/protocol';
import { TandemError } from './tandem-error.js';

/** The client socket, typed with the same event maps as the server. */
export type TandemSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export type { AckData };

type TimedEmitter = { emitWithAck(event: string, payload: unknown): Promise<unknown> };

/**
 * Sends a client event and waits for its ack, at most `timeoutMs`. socket.io's typings lose the
 * ack type once `.timeout()` is used, so this restores it from the shared event map.
 */
export function request<E extends keyof ClientToServerEvents>(
  socket: TandemSocket,
  event: E,
  payload: ClientPayload<E>,
  timeoutMs = 30_000,
): Promise<Ack<AckData<E>>> {
  return (socket.timeout(timeoutMs) as unknown as TimedEmitter).emitWithAck(event, payload) as Promise<Ack<AckData<E>>>;
}

/**
 * request(), but rejected at once while disconnected: socket.io would buffer the event and send
 * it on reconnect, before the rejoin's `shard:join`.
 */
export function requestWhileConnected<E extends keyof ClientToServerEvents>(
  socket: TandemSocket,
  event: E,
  payload: ClientPayload<E>,
  timeoutMs: number,
): Promise<Ack<AckData<E>>> {
  if (!socket.connected)
    return Promise.reject(new TandemError({ code: 'UNAVAILABLE', message: 'not connected to the server' }));
  return request(socket, event, payload, timeoutMs);
}

/** Origin of updates that came from the server (documents and presence); they are never sent back. */
export const REMOTE = Symbol('tandem-remote');

/** socket.io delivers binary as Buffer (Node) or ArrayBuffer (browser); Yjs wants Uint8Array. */
export function toU8(value: Uint8Array | ArrayBuffer): Uint8Array {
  return value instanceof Uint8Array ? value : new Uint8Array(value);
}
