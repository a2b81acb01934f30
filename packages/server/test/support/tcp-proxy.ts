import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback TCP proxy standing in for a load balancer: clients connect to it, and it forwards
 * to the current target. `retarget()` sends new connections elsewhere; `dropAll()` cuts every
 * open connection (as a dying instance or a balancer failover would).
 */
export class TcpProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private target: number;
  private paused = false;

  private constructor(targetPort: number) {
    this.target = targetPort;
    this.server = net.createServer((client) => {
      if (this.paused) {
        client.destroy();
        return;
      }
      const upstream = net.connect(this.target, '127.0.0.1');
      this.sockets.add(client);
      this.sockets.add(upstream);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  retarget(port: number): void {
    this.target = port;
  }

  /** Cuts every connection and refuses new ones until resume(): the target looks down. */
  pause(): void {
    this.paused = true;
    this.dropAll();
  }

  resume(): void {
    this.paused = false;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
