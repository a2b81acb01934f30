import type { Socket } from 'socket.io-client';
import type { Ack, AckFn, ClientToServerEvents, ServerToClientEvents } from '@tandem/protocol';

/** The client socket, typed with the same event maps as the server. */
export type TandemSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** The data type a client event's ack carries. */
export type AckData<E extends keyof ClientToServerEvents> =
  NonNullable<Parameters<ClientToServerEvents[E]>[1]> extends AckFn<infer T> ? T : never;

type TimedEmitter = { emitWithAck(event: string, payload: unknown): Promise<unknown> };

/**
 * Sends a client event and waits for its ack, at most `timeoutMs`. socket.io's typings lose the
 * ack type once `.timeout()` is used, so this restores it from the shared event map.
 */
export function request<E extends keyof ClientToServerEvents>(
  socket: TandemSocket,
  event: E,
  payload: Parameters<ClientToServerEvents[E]>[0],
  timeoutMs = 30_000,
): Promise<Ack<AckData<E>>> {
  return (socket.timeout(timeoutMs) as unknown as TimedEmitter).emitWithAck(event, payload) as Promise<Ack<AckData<E>>>;
}
