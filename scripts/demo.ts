// `npm run demo [-- <game-port>]`: the API (the all-in-one, as `npm start` runs it) and the example web game
// (examples/web-game) on another port, that is another origin, which CORS_ORIGINS lets call the API. Ctrl-C stops both.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { loadConfigOrExit } from '#platform';
import { signDevToken } from './dev-token';
import { startWebGameServer } from './web-game-server';

const GAME_ID = 'com.example.web-game';
const PLAYER = 'web-game-player';

async function main(): Promise<void> {
  const gamePort = process.argv[2] ?? '8080';
  if (!/^\d+$/.test(gamePort) || Number(gamePort) === 0 || Number(gamePort) > 65535) {
    process.stderr.write(`usage: npm run demo [-- <game-port>] (default 8080), got "${gamePort}"\n`);
    process.exit(2);
  }
  const config = loadConfigOrExit();
  const token = (sub: string) => signDevToken(config.jwt, sub, 3600, GAME_ID);
  if (token(PLAYER) === undefined) {
    process.stderr.write('npm run demo signs its player token with JWT_SECRET: unset JWT_PUBLIC_KEY and JWT_JWKS_URI for it\n');
    process.exit(1);
  }
  // The browser reaches the API on 127.0.0.1 when it listens on every address.
  const apiHost = ['0.0.0.0', '::', ''].includes(config.host) ? '127.0.0.1' : config.host;
  const endpoint = `http://${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${config.port}`;
  const gameOrigins = [`http://127.0.0.1:${gamePort}`, `http://localhost:${gamePort}`];
  const corsOrigins = config.corsOrigins === '*' ? '*' : [...(config.corsOrigins ?? []), ...gameOrigins].join(',');

  const game = await startWebGameServer({
    endpoint,
    gameId: GAME_ID,
    userId: PLAYER,
    token: (sub) => token(sub) ?? '',
    port: Number(gamePort),
  });
  const api = spawn(process.execPath, ['--enable-source-maps', '--max-old-space-size=1536', join(__dirname, '..', 'src', 'main.js')], {
    env: { ...process.env, CORS_ORIGINS: corsOrigins },
    stdio: 'inherit',
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    // Ctrl-C reaches the API too (same process group); a SIGTERM sent to this process only is passed on.
    if (api.exitCode === null && api.signalCode === null) api.kill(signal);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  api.once('exit', (code) => {
    void game.close().then(() => process.exit(stopping ? 0 : (code ?? 1)));
  });

  const deadline = Date.now() + 120_000;
  while (!stopping && api.exitCode === null) {
    const live = await fetch(`${endpoint}/health/live`).then(
      (response) => response.ok,
      () => false,
    );
    if (live) {
      process.stdout.write(
        `\nThe web game: open ${game.url}/ (the API at ${endpoint}, CORS_ORIGINS=${corsOrigins}). Ctrl-C stops both.\n\n`,
      );
      return;
    }
    if (Date.now() > deadline) {
      process.stderr.write(`the API did not answer ${endpoint}/health/live within 2 minutes\n`);
      stop('SIGTERM');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`npm run demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
