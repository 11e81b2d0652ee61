// A static file server for web/dist (the built playground): `node serve.mjs [--port N]`.
// Port 8080 by default (or $PORT); port 0 picks a free one. Listens on 127.0.0.1 only.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('./dist/', import.meta.url));
const arg = process.argv.indexOf('--port');
const port = Number(arg > 0 ? process.argv[arg + 1] : (process.env.PORT ?? 8080));
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json',
};

createServer(async (req, res) => {
  let path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  if (path.endsWith('/')) path += 'index.html';
  const file = normalize(join(root, path));
  try {
    if (!file.startsWith(root) || file.includes(`${sep}..`)) throw new Error('outside');
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(body);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}).listen(port, '127.0.0.1', function () {
  console.log(`Wesley playground: http://127.0.0.1:${this.address().port}/`);
});
