import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { useTandem } from '../support/harness.js';

/** Sends raw bytes and returns everything the server answers before it closes. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let out = '';
    socket.on('data', (d) => (out += d.toString()));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
    socket.setTimeout(5000, () => {
      socket.destroy();
      resolve(out);
    });
  });
}

describe('requests that never reach a route', () => {
  const t = useTandem();

  it('answers a request the HTTP parser rejects with the documented error shape', async () => {
    const reply = await raw(t.apps[0]!.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };
    expect(body.error.code).toBe('VALIDATION_FAILED');
  });

  it('answers a malformed percent-escape with the documented error shape', async () => {
    const res = await fetch(`${t.url()}/shards/%`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
  });
});
