/**
 * Baseline 1: a plain in-memory Yjs relay (@y/websocket-server, the y-websocket protocol), as its
 * own bin does it: one Y.Doc per room name in memory, every update applied and broadcast to the
 * room. Persists nothing. Plain JavaScript run by plain node (no tsx, no `source` condition),
 * like Tandem's built server. Env: PORT.
 */
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { setupWSConnection } from '@y/websocket-server/utils';

const port = Number(process.env.PORT);
const server = http.createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'text/plain' });
  response.end('ok');
});
const wss = new WebSocketServer({ noServer: true });
wss.on('connection', setupWSConnection);
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ listening: port })}\n`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
