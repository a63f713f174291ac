// The libraries under libs/ and the only direction their dependencies may take (ESLint rule
// `playsmart/library-boundaries`, in eslint.config.mjs). A library imports another by its alias (`#platform`), never
// by a path into its files, and only one listed here; a library's own files import each other by relative path.
// A package under packages/ (the game client, @playsmart/client) is published on its own: it imports no library, no
// file outside its folder and no dependency (it has none) — only Node's modules, and those only in its src/node/ entry,
// its tests and their fakes (src/testing/), since the rest runs in browsers and React Native too.
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

export const LIBRARY_DEPENDENCIES = {
  platform: [],
  contract: ['platform'],
  pipeline: ['platform', 'contract'],
  auth: ['platform'],
  ingest: ['platform', 'contract', 'pipeline', 'auth'],
  worker: ['platform', 'contract', 'pipeline'],
  persistence: ['platform', 'contract'],
};

const ROOT = dirname(import.meta.dirname);

/** A path as it is on disk: a symbolic link inside a library does not lead out of it unnoticed. */
function real(path) {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The library a repository path belongs to ('libs/ingest/src/x.ts' → 'ingest'), or undefined. */
function libraryOf(path) {
  const parts = relative(ROOT, real(path)).split(sep);
  return parts[0] === 'libs' && parts.length > 2 ? parts[1] : undefined;
}

/** The package a repository path belongs to ('packages/client/src/x.ts' → 'client'), or undefined. */
function packageOf(path) {
  const parts = relative(ROOT, real(path)).split(sep);
  return parts[0] === 'packages' && parts.length > 2 ? parts[1] : undefined;
}

/** What a file of `pkg` may not import: the message, or undefined. */
function packageProblem(file, pkg, source, isSpec) {
  if (source.startsWith('#')) return `packages/${pkg} is published on its own: it imports no server library ('${source}')`;
  if (source.startsWith('.') || isAbsolute(source)) {
    return packageOf(resolve(dirname(file), source)) === pkg
      ? undefined
      : `'${source}' leaves packages/${pkg}: a package imports only its own files`;
  }
  if (!source.startsWith('node:'))
    return `packages/${pkg} has no runtime dependencies: '${source}' (only Node's node: modules, in src/node/)`;
  const inside = relative(join(ROOT, 'packages', pkg, 'src'), real(file)).split(sep)[0];
  return isSpec || inside === 'node' || inside === 'testing'
    ? undefined
    : `'${source}' in the core of packages/${pkg}, which runs in browsers too: Node's modules belong in src/node/`;
}

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'Libraries depend on each other one way, through their index.ts only' },
    schema: [],
  },
  create(context) {
    const file = resolve(context.filename);
    const own = libraryOf(file);
    const isSpec = /\.(e2e-)?spec\.ts$/.test(file);
    const ownPackage = packageOf(file);
    function check(node, source) {
      if (typeof source !== 'string') return;
      if (ownPackage !== undefined) {
        const message = packageProblem(file, ownPackage, source, isSpec);
        if (message !== undefined) context.report({ node, message });
        return;
      }
      if (source.startsWith('#')) {
        const target = source.slice(1);
        if (!(target in LIBRARY_DEPENDENCIES)) {
          context.report({ node, message: `'${source}' is no library (libraries: ${Object.keys(LIBRARY_DEPENDENCIES).join(', ')})` });
        } else if (own === target) {
          context.report({ node, message: `a file of ${own} imports its own library by relative path, not '${source}'` });
        } else if (own !== undefined && !LIBRARY_DEPENDENCIES[own].includes(target)) {
          const allowed = LIBRARY_DEPENDENCIES[own].map((name) => `#${name}`).join(', ') || 'no other library';
          context.report({ node, message: `${own} may not depend on ${target}: it imports ${allowed} (tools/library-boundaries.mjs)` });
        }
        return;
      }
      if (!source.startsWith('.') && !isAbsolute(source)) return;
      const target = libraryOf(resolve(dirname(file), source));
      if (target !== undefined && target !== own) {
        context.report({ node, message: `'${source}' reaches into libs/${target}: import its public API from '#${target}'` });
      } else if (
        own !== undefined &&
        target === undefined &&
        !(isSpec && relative(ROOT, resolve(dirname(file), source)).startsWith(`support${sep}`))
      ) {
        context.report({ node, message: `'${source}' leaves libs/${own}: a library imports only its own files and other libraries` });
      }
    }
    // Every way TypeScript names another module: import and export, import() as a value and as a type, require and
    // `import x = require()`, and `declare module '…'` (an augmentation reaches into the module it names).
    const literal = (node) =>
      node?.type === 'Literal'
        ? node.value
        : node?.type === 'TemplateLiteral' && node.expressions.length === 0
          ? node.quasis[0].value.cooked
          : undefined;
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => check(node, literal(node.source)),
      TSImportType: (node) => check(node, literal(node.argument?.literal ?? node.argument)),
      TSExternalModuleReference: (node) => check(node, literal(node.expression)),
      TSModuleDeclaration: (node) => node.id.type === 'Literal' && check(node, node.id.value),
      'CallExpression[callee.name="require"]': (node) => check(node, literal(node.arguments[0])),
    };
  },
};

export const libraryBoundaries = { rules: { 'library-boundaries': rule } };
