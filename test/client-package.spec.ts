import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

// @playsmart/client as a game installs it: `npm pack` (which builds it), unpacked into a scratch node_modules, then
// required and imported by name, as CommonJS and as an ES module, with its `./node` entry.
describe('the game client as a package', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'playsmart-client-pack-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('packs, and loads by name from CommonJS and ES modules, with its type declarations', () => {
    execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: 'packages/client', stdio: 'pipe' });
    const [tarball] = readdirSync(scratch).filter((name) => name.endsWith('.tgz'));
    const installed = join(scratch, 'node_modules', '@playsmart', 'client');
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', join(scratch, tarball), '-C', installed, '--strip-components=1']);

    const names = (code: string, type: 'commonjs' | 'module') =>
      JSON.parse(execFileSync(process.execPath, [`--input-type=${type}`, '-e', code], { cwd: scratch, encoding: 'utf8' })) as string[];
    const expected = ['BrowserStorage', 'MemoryStorage', 'browserLifecycle', 'createIngestClient'];
    const cjs = names(
      "const c = require('@playsmart/client'); const n = require('@playsmart/client/node'); console.log(JSON.stringify([...Object.keys(c), ...Object.keys(n)]))",
      'commonjs',
    );
    const esm = names(
      "import * as c from '@playsmart/client'; import * as n from '@playsmart/client/node'; console.log(JSON.stringify([...Object.keys(c), ...Object.keys(n)]))",
      'module',
    );
    for (const name of [...expected, 'FileStorage', 'nodeLifecycle']) {
      assert.ok(cjs.includes(name), `require: ${name}`);
      assert.ok(esm.includes(name), `import: ${name}`);
    }
    const files = readdirSync(join(installed, 'dist', 'esm'));
    assert.ok(files.includes('index.d.ts') && !files.some((file) => file.includes('spec')), 'declarations, and no tests');
  });
});
