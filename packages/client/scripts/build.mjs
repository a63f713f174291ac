// Builds dist/esm (ES modules) and dist/cjs (CommonJS), each with its type declarations and a package.json naming its
// module format, from src/ (the tests, *.spec.ts, and src/testing are left out). Run from packages/client or anywhere.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
rmSync(join(root, 'dist'), { recursive: true, force: true });
for (const [format, type] of [
  ['esm', 'module'],
  ['cjs', 'commonjs'],
]) {
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, `tsconfig.${format}.json`)], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  mkdirSync(join(root, 'dist', format), { recursive: true });
  writeFileSync(join(root, 'dist', format, 'package.json'), `${JSON.stringify({ type })}\n`);
}
