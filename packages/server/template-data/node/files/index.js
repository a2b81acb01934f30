import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 3000);
let count = 0;

const page = () => `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Node.js</title>
    <style>
      body { font-family: system-ui, sans-serif; min-height: 100vh; margin: 0; display: grid; place-items: center; }
      main { text-align: center; }
      button { font: inherit; font-weight: 600; padding: 0.6rem 1.3rem; border: 0; border-radius: 0.5rem; background: #4f46e5; color: #fff; cursor: pointer; }
    </style>
  </head>
  <body>
    <main>
      <h1>Hello, Tandem</h1>
      <p>This page comes from <code>index.js</code>, a plain Node.js server.</p>
      <form method="post" action="/count">
        <button type="submit">Clicked ${count} ${count === 1 ? 'time' : 'times'}</button>
      </form>
      <p>The count lives in the server, so every visitor shares it. JSON: <a href="/api/count">/api/count</a></p>
    </main>
  </body>
</html>`;

const server = createServer((request, response) => {
  const { pathname } = new URL(request.url ?? '/', 'http://localhost');

  if (request.method === 'POST' && pathname === '/count') {
    count += 1;
    response.writeHead(303, { location: '/' }).end();
  } else if (request.method === 'GET' && pathname === '/api/count') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count }));
  } else if (request.method === 'GET' && pathname === '/') {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page());
  } else {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
  }
});

server.listen(port, () => {
  console.log(`Listening on http://localhost:${port}`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
