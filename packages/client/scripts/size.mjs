// Measures the browser build as a game's bundler ships it: src/index.ts bundled and minified by esbuild for browsers,
// then gzipped. Prints {"minified":…,"gzipped":…,"limit":…} and fails when the gzipped size is over the limit.
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { build } from 'esbuild';

/** The budget of the issue that asked for the client: 10 KB minified and gzipped. */
const LIMIT_BYTES = 10_000;

const result = await build({
  entryPoints: [join(import.meta.dirname, '..', 'src', 'index.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  write: false,
  logLevel: 'error',
});
const code = result.outputFiles[0].contents;
const size = { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length, limit: LIMIT_BYTES };
console.log(JSON.stringify(size));
if (size.gzipped > LIMIT_BYTES) {
  console.error(`the browser build takes ${size.gzipped} bytes minified and gzipped, over ${LIMIT_BYTES}`);
  process.exit(1);
}
