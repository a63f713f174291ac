import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

// nest-cli.json is the Nest CLI's map of the monorepo (what `nest generate … --project <name>` and `nest build <name>`
// read); our build does not read it (tsc -p tsconfig.build.json). This keeps the map true to the directories. The
// library in libs/worker is the project `worker-lib`: `worker` is the application in apps/worker.

interface NestProject {
  type: 'application' | 'library';
  root: string;
  sourceRoot: string;
  entryFile: string;
}

describe('nest-cli.json', () => {
  const { projects, sourceRoot } = JSON.parse(readFileSync('nest-cli.json', 'utf8')) as {
    projects: Record<string, NestProject>;
    sourceRoot: string;
  };

  it('lists every application and library, and nothing else', () => {
    const dirs = (parent: string) => readdirSync(parent, { withFileTypes: true }).filter((entry) => entry.isDirectory());
    const expected = ['src', ...dirs('apps').map(({ name }) => `apps/${name}`), ...dirs('libs').map(({ name }) => `libs/${name}`)];
    assert.deepEqual(
      Object.values(projects)
        .map(({ root }) => root)
        .sort(),
      expected.sort(),
    );
    assert.equal(sourceRoot, 'src');
  });

  it("names each project's entry file where it is", () => {
    for (const [name, project] of Object.entries(projects)) {
      assert.equal(project.type, project.root.startsWith('libs/') ? 'library' : 'application', name);
      assert.ok(existsSync(join(project.sourceRoot, `${project.entryFile}.ts`)), `${name}: ${project.sourceRoot}/${project.entryFile}.ts`);
    }
  });
});
