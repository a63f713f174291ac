// Writes the OpenAPI document the service serves at /docs-json to openapi.json: `npm run openapi`.
// `npm run openapi:check` (CI) fails when the committed file differs from what the code generates.
// Usage: node dist/scripts/generate-openapi.js [--check] [--file <path>]   (default file: openapi.json at the root)
//
// The application is created with `preview: true`: Nest scans the modules and their routes but instantiates no
// provider, so nothing connects to Redis or PostgreSQL and no configuration is needed. The document comes from the
// same buildOpenApiDocument() that the running service uses.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { buildOpenApiDocument } from '#platform';
import { AppModule } from '../src/app.module';

const ROOT = join(__dirname, '..', '..');

interface Options {
  check: boolean;
  file: string;
}

function parseArguments(args: string[]): Options {
  const options: Options = { check: false, file: join(ROOT, 'openapi.json') };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--check') options.check = true;
    else if (args[i] === '--file' && args[i + 1] !== undefined) options.file = args[++i];
    else {
      process.stderr.write('usage: generate-openapi [--check] [--file <path>]\n');
      process.exit(2);
    }
  }
  return options;
}

/** The document as committed: 2-space indentation and a final newline, in the order Nest builds it (deterministic). */
async function generateOpenApiJson(): Promise<string> {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), {
    preview: true,
    logger: false,
    // Throw instead of exiting, so that a broken module is reported below.
    abortOnError: false,
    bodyParser: false,
  });
  try {
    return `${JSON.stringify(buildOpenApiDocument(app), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

type Operations = Record<string, Record<string, unknown>>;

/** A short hint at what changed: operations added or removed, then the first differing lines. */
function describeDifference(committed: string, generated: string): string {
  const hints: string[] = [];
  const operations = (text: string): Set<string> | undefined => {
    try {
      const paths = (JSON.parse(text) as { paths?: Operations }).paths ?? {};
      return new Set(Object.entries(paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`)));
    } catch {
      return undefined;
    }
  };
  const before = operations(committed);
  const after = operations(generated);
  if (before === undefined) hints.push('  the committed file is not valid JSON');
  if (before !== undefined && after !== undefined) {
    for (const op of after) if (!before.has(op)) hints.push(`  + ${op} (not in the committed file)`);
    for (const op of before) if (!after.has(op)) hints.push(`  - ${op} (no longer in the code)`);
  }
  const a = committed.split('\n');
  const b = generated.split('\n');
  let shown = 0;
  for (let line = 0; line < Math.max(a.length, b.length) && shown < 3; line++) {
    if (a[line] === b[line]) continue;
    hints.push(
      `  line ${line + 1}:`,
      `    committed: ${a[line]?.trim() ?? '(end of file)'}`,
      `    generated: ${b[line]?.trim() ?? '(end of file)'}`,
    );
    shown++;
  }
  return hints.join('\n');
}

async function main(): Promise<void> {
  const options = parseArguments(process.argv.slice(2));
  const generated = await generateOpenApiJson();
  const name = relative(process.cwd(), options.file) || options.file;
  if (!options.check) {
    writeFileSync(options.file, generated);
    process.stdout.write(`wrote ${name}\n`);
    return;
  }
  let committed: string;
  try {
    committed = readFileSync(options.file, 'utf8');
  } catch {
    process.stderr.write(`${name} is missing: run \`npm run openapi\` and commit it.\n`);
    process.exit(1);
  }
  if (committed === generated) {
    process.stdout.write(`${name} is up to date\n`);
    return;
  }
  process.stderr.write(
    `${name} is out of date: the API in the code differs from the committed document.\n` +
      `Run \`npm run openapi\` and commit ${name} (\`git diff ${name}\` then shows the change).\n` +
      `${describeDifference(committed, generated)}\n`,
  );
  process.exit(1);
}

main().catch((error: unknown) => {
  process.stderr.write(`openapi: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
