import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

describe('the game client in a browser', () => {
  it('takes at most 10 KB minified and gzipped, as esbuild bundles it', (t) => {
    const run = spawnSync(process.execPath, ['packages/client/scripts/size.mjs'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const size = JSON.parse(run.stdout) as { minified: number; gzipped: number; limit: number };
    t.diagnostic(`${size.minified} bytes minified, ${size.gzipped} gzipped (limit ${size.limit})`);
    assert.ok(size.gzipped > 1000 && size.gzipped <= 10_000, `${size.gzipped} bytes`);
  });
});
