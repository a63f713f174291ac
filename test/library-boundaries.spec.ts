import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, it } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

// The rule `npm run lint` enforces between libraries (tools/library-boundaries.mjs), on files that break it.

describe('library boundaries (lint)', () => {
  let eslint: ESLint;
  let dependencies: Record<string, string[]>;

  before(async () => {
    const tool = (await import(pathToFileURL(join(process.cwd(), 'tools/library-boundaries.mjs')).href)) as {
      libraryBoundaries: ESLint.Plugin;
      LIBRARY_DEPENDENCIES: Record<string, string[]>;
    };
    dependencies = tool.LIBRARY_DEPENDENCIES;
    eslint = new ESLint({
      overrideConfigFile: true,
      overrideConfig: [
        {
          files: ['**/*.ts'],
          languageOptions: { parser: tseslint.parser },
          plugins: { playsmart: tool.libraryBoundaries },
          rules: { 'playsmart/library-boundaries': 'error' },
        },
      ],
    });
  });

  async function problems(filePath: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath });
    return result.messages.map(({ message }) => message);
  }

  it('refuses a dependency against the direction, and names the ones allowed', async () => {
    assert.deepEqual(await problems('libs/platform/src/http/x.ts', "import { IngestModule } from '#ingest';"), [
      'platform may not depend on ingest: it imports no other library (tools/library-boundaries.mjs)',
    ]);
    assert.match(
      (await problems('libs/persistence/src/x.ts', "import { BatchWorkerModule } from '#worker';"))[0],
      /imports #platform, #contract/,
    );
    assert.deepEqual(await problems('libs/ingest/src/x.ts', "import { BufferedEvents } from '#pipeline';"), []);
  });

  it('refuses a deep import into another library, from a library or from outside', async () => {
    const deep = {
      'libs/worker/src/x.ts': '../../contract/src/accepted-event',
      'test/x.e2e-spec.ts': '../libs/contract/src/accepted-event',
      'apps/worker/src/x.ts': '../../../libs/contract/src/accepted-event',
    };
    for (const [file, path] of Object.entries(deep)) {
      const [message] = await problems(file, `import { EVENT_COLUMNS } from '${path}';`);
      assert.match(message ?? '', /reaches into libs\/contract: import its public API from '#contract'/, file);
    }
  });

  it('refuses every other way of naming a module: import() as a value or a type, require, augmentation, absolute path', async () => {
    const ways = [
      "export type X = import('#ingest').IngestEventDto;",
      'export const load = () => import(`#ingest`);',
      "import x = require('#ingest');",
      "const y = require('#ingest');",
      "declare module '../../ingest/src/ingest.module' { interface IngestModule { z: number } }",
      `import { IngestModule } from '${join(process.cwd(), 'libs/ingest/src/ingest.module')}';`,
    ];
    for (const code of ways) {
      const [message] = await problems('libs/platform/src/x.ts', code);
      assert.match(message ?? '', /platform may not depend on ingest|reaches into libs\/ingest/, code);
    }
  });

  it("refuses a library's own alias inside it, and an alias that is no library", async () => {
    assert.match((await problems('libs/contract/src/x.ts', "import { EventStore } from '#contract';"))[0], /by relative path/);
    assert.match((await problems('apps/worker/src/x.ts', "import { x } from '#common';"))[0], /'#common' is no library/);
  });

  it('keeps the game client (packages/client) apart: no library, no file outside it, no dependency, Node only in src/node/', async () => {
    const refused = {
      "import { EVENT_TYPES } from '#ingest';": /published on its own: it imports no server library/,
      "import { x } from '../../../libs/ingest/src/event-types';": /leaves packages\/client/,
      "import { x } from '../../../src/main';": /leaves packages\/client/,
      "import { ClientConfigDto } from '../../../libs/ingest/src/dto/client-config.dto';": /leaves packages\/client/,
      "import { z } from 'zod';": /has no runtime dependencies/,
      "import { readFile } from 'node:fs/promises';": /Node's modules belong in src\/node/,
      "const fs = require('node:fs');": /Node's modules belong in src\/node/,
    };
    for (const [code, message] of Object.entries(refused)) {
      assert.match((await problems('packages/client/src/client.ts', code))[0] ?? '', message, code);
    }
    const allowed = {
      'packages/client/src/client.ts': "import { utf8Length } from './encoding.js';",
      'packages/client/src/node/file-storage.ts': "import { rename } from 'node:fs/promises'; import type { Storage } from '../types.js';",
      'packages/client/src/client.spec.ts': "import assert from 'node:assert/strict';",
    };
    for (const [file, code] of Object.entries(allowed)) assert.deepEqual(await problems(file, code), [], file);
  });

  it('has a direction: no library depends, directly or not, on one that depends on it', () => {
    const reaches = (from: string, seen = new Set<string>()): Set<string> => {
      for (const next of dependencies[from]) if (!seen.has(next)) reaches(next, seen.add(next));
      return seen;
    };
    for (const library of Object.keys(dependencies)) assert.ok(!reaches(library).has(library), `${library} depends on itself`);
  });

  it("has no cycle between the folders of a library's files: each folder's imports go one way too", () => {
    for (const library of Object.keys(dependencies)) {
      const root = join('libs', library, 'src');
      const edges = new Map<string, Set<string>>();
      // A file at the top of src/ assembles the folders below it: only the folders are held to a direction.
      const folderOf = (path: string) => {
        const parts = relative(root, path).split(sep);
        return parts.length > 1 ? parts[0] : undefined;
      };
      for (const entry of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
        if (!entry.endsWith('.ts') || entry.endsWith('.spec.ts') || entry === 'index.ts') continue;
        const file = join(root, entry);
        for (const [, path] of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
          const [from, to] = [folderOf(file), folderOf(resolve(dirname(file), path))];
          if (from !== undefined && to !== undefined && from !== to) edges.set(from, (edges.get(from) ?? new Set()).add(to));
        }
      }
      const reaches = (from: string, seen = new Set<string>()): Set<string> => {
        for (const next of edges.get(from) ?? []) if (!seen.has(next)) reaches(next, seen.add(next));
        return seen;
      };
      for (const folder of edges.keys())
        assert.ok(!reaches(folder).has(folder), `libs/${library}/src/${folder} imports itself through another folder`);
    }
  });
});
