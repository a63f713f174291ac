// `npm run build`: compiles dist/ with tsc, unless dist/ is already newer than everything it is built from (then it
// takes a moment instead of seconds: `npm run -s token` and `npm start` build first). Then the game client
// (packages/client: dist/esm and dist/cjs, its own script), on the same terms: only when its sources changed.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

/** Runs `args` with Node unless `stamp` is newer than every one of `sources`; then touches `stamp`. */
function build(stamp, sources, args) {
  const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  if (built > Math.max(...sources.map(newest))) return;
  const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

build(
  'dist/.build-stamp',
  ['src', 'apps', 'libs', 'scripts', 'support', 'tsconfig.json', 'tsconfig.build.json', 'package.json'],
  ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'],
);
// The service's image (Dockerfile) copies no packages/: there is no client to build then.
const client = 'packages/client';
if (existsSync(join(client, 'scripts/build.mjs'))) {
  build(
    join(client, 'dist/.build-stamp'),
    ['src', 'scripts', 'tsconfig.cjs.json', 'tsconfig.esm.json', 'package.json'].map((path) => join(client, path)),
    [join(client, 'scripts/build.mjs')],
  );
}
