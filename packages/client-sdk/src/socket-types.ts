import type { Socket } from 'socket.io-client';
import type { Ack, AckData, ClientPayload, ClientToServerEvents, ServerToClientEvents } from '@tandem/protocol';

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
