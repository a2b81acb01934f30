/**
 * What `serve` prints for people, besides its log records: the one line that says where the
 * server is, and in development mode the warning block that nobody should miss. main.ts prints
 * them when logs are human-readable (development); in JSON mode the same facts are log records.
 *
 * Imports only Node; main.ts calls it.
 */
import { isIP } from 'node:net';

/** The address to open in a browser: a wildcard host is reached on the loopback address. */
export function browsableUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${isIP(reachable) === 6 ? `[${reachable}]` : reachable}:${port}`;
}

/** `Tandem is running at http://127.0.0.1:3000`, noting a wildcard host. */
export function readyLine(host: string, port: number): string {
  const wildcard = host === '0.0.0.0' || host === '::';
  return `Tandem is running at ${browsableUrl(host, port)}${wildcard ? ` (listening on all interfaces, ${host})` : ''}`;
}

/** The development-mode warning as one framed block (stderr), colored on a terminal. */
export function insecureDevBlock(options: { secretFile: string | undefined; color: boolean }): string {
  const lines = [
    'DEVELOPMENT MODE (--insecure-dev / TANDEM_INSECURE_DEV): NOT FOR PRODUCTION',
    "GET /dev/token hands an admin token to this server's own pages on localhost, and tokens",
    `are signed with the development secret in ${options.secretFile ?? 'the data directory'}.`,
    'In production set AUTH_JWT_SECRET (or AUTH_JWKS_URL) and run: npm run tandem -- serve',
  ];
  const width = Math.max(...lines.map((l) => l.length));
  const rule = `+${'-'.repeat(width + 2)}+`;
  const block = [rule, ...lines.map((l) => `| ${l.padEnd(width)} |`), rule].join('\n');
  // Bold yellow on a terminal; plain text in a file or a pipe.
  return options.color ? `\u001b[1;33m${block}\u001b[0m` : block;
}
