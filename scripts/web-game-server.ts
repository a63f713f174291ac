// The example web game's own origin (examples/web-game): its files, the game client's ES modules under /client/, the
// page's configuration and its player's token. `npm run demo` and test/web-game.e2e-spec.ts start it.
import { readFile, stat } from 'node:fs/promises';
import { createServer, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';

/** The repository root, from dist/scripts. */
const ROOT = join(__dirname, '..', '..');
const GAME_DIR = join(ROOT, 'examples', 'web-game');
const CLIENT_DIR = join(ROOT, 'packages', 'client', 'dist', 'esm');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
};

export interface WebGameOptions {
  /** The API's base URL as the browser reaches it: another origin than the game's. */
  endpoint: string;
  gameId: string;
  /** The demo player: the `sub` of the tokens `token` signs. */
  userId: string;
  /** Signs an access token for the player. */
  token: (userId: string) => string;
  host?: string;
  /** 0 (default): a free port. */
  port?: number;
}

export interface WebGameServer {
  /** The game's origin, e.g. http://127.0.0.1:8080. */
  url: string;
  close(): Promise<void>;
}

export async function startWebGameServer(options: WebGameOptions): Promise<WebGameServer> {
  const { host = '127.0.0.1', port = 0 } = options;
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://game').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') return void send(response, 405, 'text/plain', 'GET only');
    if (path === '/config.json') {
      return void send(
        response,
        200,
        CONTENT_TYPES['.json'],
        JSON.stringify({ endpoint: options.endpoint, gameId: options.gameId, userId: options.userId }),
      );
    }
    if (path === '/token')
      return void send(response, 200, CONTENT_TYPES['.json'], JSON.stringify({ token: options.token(options.userId) }));
    const [dir, file] = path.startsWith('/client/')
      ? [CLIENT_DIR, path.slice('/client/'.length)]
      : [GAME_DIR, path === '/' ? 'index.html' : path.slice(1)];
    void serveFile(response, dir, file);
  });
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(port, host, ready);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

function send(response: ServerResponse, status: number, type: string, body: string | Buffer): void {
  // Always the files of now: a reloaded page gets the game and client as they are on disk.
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
}

async function serveFile(response: ServerResponse, dir: string, file: string): Promise<void> {
  const path = resolve(dir, file);
  const inside = path.startsWith(dir + sep);
  const found =
    inside &&
    (await stat(path).then(
      (entry) => entry.isFile(),
      () => false,
    ));
  const type = CONTENT_TYPES[extname(path)];
  if (!found || type === undefined) return send(response, 404, 'text/plain', 'not found');
  send(response, 200, type, await readFile(path));
}
