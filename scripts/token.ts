// Prints a bearer token for the configured JWT_SECRET: `npm run -s token -- <sub> [lifetime-seconds] [game]`.
import { loadConfigOrExit } from '#platform';
import { signDevToken } from './dev-token';

const [sub, lifetime = '3600', game] = process.argv.slice(2);
if (sub === undefined || sub === '') {
  process.stderr.write('usage: npm run -s token -- <sub> [lifetime-seconds] [game, the JWT_GAME_CLAIM claim]\n');
  process.exit(2);
}
if (!/^\d+$/.test(lifetime)) {
  process.stderr.write(`lifetime must be a number of seconds, got "${lifetime}"\n`);
  process.exit(2);
}

const { jwt } = loadConfigOrExit();
if (jwt.key.kind !== 'secret') {
  process.stderr.write('npm run token signs with JWT_SECRET only; with a public key or JWKS, tokens come from your identity provider.\n');
  process.exit(1);
}

if (Number(lifetime) > jwt.maxLifetimeSeconds) {
  process.stderr.write(`lifetime must not exceed JWT_MAX_LIFETIME_SECONDS (${jwt.maxLifetimeSeconds}), got ${lifetime}\n`);
  process.exit(2);
}

if (game !== undefined && jwt.gameClaim === undefined) {
  process.stderr.write('a game is written into the JWT_GAME_CLAIM claim: set JWT_GAME_CLAIM first\n');
  process.exit(2);
}

process.stdout.write(`${signDevToken(jwt, sub, Number(lifetime), game)}\n`);
