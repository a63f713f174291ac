import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';

// Keeps the documentation of the environment in step with the code: every variable the configuration reads is in
// .env.example and in the configuration table of docs/configuration.md, and .env.example lists nothing the code does
// not read.

function repositoryRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

const ROOT = repositoryRoot();
const CONFIG_DIR = join(ROOT, 'libs', 'platform', 'src', 'config');

/** Every variable name the configuration code reads: `reader.int('PORT', …)`, `env['X']`, `env.X`. */
function variablesReadByTheCode(): Set<string> {
  const patterns = [
    /\breader\.\w+\(\s*['"`]([A-Z][A-Z0-9_]*)['"`]/g,
    /\benv\[\s*['"`]([A-Z][A-Z0-9_]*)['"`]\s*\]/g,
    /\benv\.([A-Z][A-Z0-9_]*)\b/g,
  ];
  const names = new Set<string>();
  for (const file of readdirSync(CONFIG_DIR).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))) {
    const source = readFileSync(join(CONFIG_DIR, file), 'utf8');
    for (const pattern of patterns) for (const match of source.matchAll(pattern)) names.add(match[1]);
  }
  return names;
}

/** The keys of .env.example, set or commented out (`NAME=…` or `# NAME=…`). */
function envExampleKeys(): Set<string> {
  const text = readFileSync(join(ROOT, '.env.example'), 'utf8');
  return new Set([...text.matchAll(/^[ \t]*#?[ \t]*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
}

/** The table of docs/configuration.md: the text before its first second-level heading. */
function configurationTable(): string {
  const text = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
  assert.ok(text.startsWith('# Configuration\n'), 'docs/configuration.md starts with "# Configuration"');
  const end = text.indexOf('\n## ');
  const table = text.slice(0, end < 0 ? undefined : end);
  assert.match(table, /^\| Variable +\|/m, 'docs/configuration.md has its table of variables before its first "## " heading');
  return table;
}

describe('environment variables are documented', () => {
  const read = variablesReadByTheCode();

  it('finds the variables in the configuration code', () => {
    // Guards the parsing above: a pattern that matched nothing would make the other tests pass vacuously.
    for (const name of [
      'NODE_ENV',
      'PORT',
      'DATABASE_URL',
      'REDIS_URL',
      'JWT_SECRET',
      'JWT_PUBLIC_KEY_FILE',
      'TIMESTAMP_MAX_AGE_SECONDS',
    ]) {
      assert.ok(read.has(name), `${name} is found in libs/platform/src/config`);
    }
    assert.ok(read.size >= 30, `only ${read.size} variables found`);
  });

  it('.env.example lists every variable the configuration reads', () => {
    const keys = envExampleKeys();
    const missing = [...read].filter((name) => !keys.has(name));
    assert.deepEqual(missing, [], `add to .env.example: ${missing.join(', ')}`);
  });

  it('.env.example lists no variable the configuration does not read', () => {
    const unknown = [...envExampleKeys()].filter((name) => !read.has(name));
    assert.deepEqual(unknown, [], `not read by libs/platform/src/config: ${unknown.join(', ')}`);
  });

  it('the configuration table of docs/configuration.md names every variable the configuration reads', () => {
    const section = configurationTable();
    const missing = [...read].filter((name) => !section.includes(`\`${name}\``));
    assert.deepEqual(missing, [], `add to the table in docs/configuration.md: ${missing.join(', ')}`);
  });
});
