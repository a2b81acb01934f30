import { io, type Socket } from 'socket.io-client';

/** A raw socket.io connection to Tandem (the protocol of docs/protocol.md), for scenario setup and timing. */
export async function connectSocket(url: string, token: string): Promise<Socket> {
  const socket = io(url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connection to ${url} in 30 s`)), 30_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  return socket;
}

/** Sends an event and returns its ack's data, or throws with the error code. */
export async function call<T>(socket: Socket, event: string, payload: unknown, timeoutMs = 60_000): Promise<T> {
  const ack = (await socket.timeout(timeoutMs).emitWithAck(event, payload)) as
    { ok: true; data: T } | { ok: false; error: { code: string; message: string } };
  if (!ack.ok) throw new Error(`${event}: ${ack.error.code} ${ack.error.message}`);
  return ack.data;
}
