import { fieldPath } from '#platform';
import { isStorableText } from './text';

export interface JsonShapeLimits {
  maxBytes: number;
  maxDepth: number;
  maxKeys: number;
  maxItems: number;
}

// Keys that pollute prototypes when a consumer merges the object naively.
export const FORBIDDEN_KEY_NAMES = ['__proto__', 'constructor', 'prototype'] as const;
const FORBIDDEN_KEYS = new Set<string>(FORBIDDEN_KEY_NAMES);

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/**
 * Why `customdata` is not acceptable, or undefined when it is. The walk stops as soon as the depth limit is
 * passed, so arbitrarily deep input costs no more than the limit.
 */
export function describeJsonObjectProblem(value: unknown, limits: JsonShapeLimits): string | undefined {
  if (!isContainer(value) || Array.isArray(value)) return 'must be a JSON object';
  const size: SizeBound = { bytes: 0 };
  const problem = describeContainer(value, 1, limits, size);
  if (problem !== undefined) return problem;
  // The walk bounds the compact JSON's size from above; only an object that might be over the limit is serialized.
  if (size.bytes <= limits.maxBytes) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > limits.maxBytes) return `must be at most ${limits.maxBytes} bytes as compact JSON, got ${bytes}`;
  return undefined;
}

/**
 * An upper bound of the UTF-8 length of JSON.stringify(value): a string takes at most 6 bytes per UTF-16 unit (an
 * escape such as \u001f or a lone surrogate) plus its quotes, a number at most 32 characters, and containers their
 * brackets, colons and commas. Anything that is not plain JSON data makes it infinite (serialize to know).
 */
interface SizeBound {
  bytes: number;
}

const MAX_NUMBER_CHARS = 32;

function describeContainer(container: object, depth: number, limits: JsonShapeLimits, size: SizeBound): string | undefined {
  if (depth > limits.maxDepth) return `must be at most ${limits.maxDepth} levels deep`;
  if (Array.isArray(container)) {
    if (container.length > limits.maxItems) return `arrays must have at most ${limits.maxItems} items`;
    if (Object.getPrototypeOf(container) !== Array.prototype) size.bytes = Infinity;
    size.bytes += 2 + container.length;
    for (const item of container) {
      const problem = describeValue(item, depth, limits, size);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  const keys = Object.keys(container);
  if (keys.length > limits.maxKeys) return `objects must have at most ${limits.maxKeys} keys`;
  if (Object.getPrototypeOf(container) !== Object.prototype) size.bytes = Infinity;
  size.bytes += 2;
  for (const key of keys) {
    if (FORBIDDEN_KEYS.has(key)) return `key "${key}" is not allowed`;
    if (!isStorableText(key)) return 'keys must not contain U+0000 or unpaired surrogates';
    size.bytes += key.length * 6 + 4;
    const problem = describeValue((container as Record<string, unknown>)[key], depth, limits, size);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function describeValue(value: unknown, depth: number, limits: JsonShapeLimits, size: SizeBound): string | undefined {
  if (typeof value === 'string') {
    size.bytes += value.length * 6 + 2;
    return isStorableText(value) ? undefined : 'strings must not contain U+0000 or unpaired surrogates';
  }
  if (isContainer(value)) return describeContainer(value, depth + 1, limits, size);
  if (typeof value === 'number') size.bytes += MAX_NUMBER_CHARS;
  else if (typeof value === 'boolean' || value === null) size.bytes += 5;
  // Not JSON data (a parsed body has none): only serializing says what it comes to.
  else size.bytes = Infinity;
  return undefined;
}

export interface JsonTreeProblem {
  /** Bracket-form path of the offending container or key. */
  path: string;
  reason: 'too_deep' | 'forbidden_key';
  /** For a forbidden key, the key itself. */
  key?: string;
}

/**
 * One pass over a parsed body before class-transformer touches it: the first container nested deeper than
 * `maxDepth` (the body counting as depth 1), or the first key that pollutes prototypes. class-transformer
 * overflows its stack on deep input and silently drops `__proto__` and `constructor` keys, so both are caught here.
 */
export function inspectJsonTree(root: unknown, maxDepth: number): JsonTreeProblem | undefined {
  // Paths are only spelled out for a problem: most bodies have none, and every event has a few containers.
  const stack: TreeNode[] = [{ value: root, depth: 1 }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const { value, depth } = node;
    if (!isContainer(value)) continue;
    if (depth > maxDepth) return { path: pathOf(node), reason: 'too_deep' };
    if (Array.isArray(value)) {
      // Pushed in reverse so that the first problem in document order is the one reported.
      for (let i = value.length - 1; i >= 0; i--) {
        const child: unknown = value[i];
        if (isContainer(child)) stack.push({ value: child, depth: depth + 1, parent: node, key: i });
      }
      continue;
    }
    const keys = Object.keys(value);
    for (const key of keys) {
      if (FORBIDDEN_KEYS.has(key)) return { path: fieldPath(pathOf(node), key), reason: 'forbidden_key', key };
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const child = (value as Record<string, unknown>)[keys[i]];
      if (isContainer(child)) stack.push({ value: child, depth: depth + 1, parent: node, key: keys[i] });
    }
  }
  return undefined;
}

interface TreeNode {
  value: unknown;
  depth: number;
  parent?: TreeNode;
  /** The key or index of this node in its parent. */
  key?: string | number;
}

function pathOf(node: TreeNode): string {
  const keys: Array<string | number> = [];
  for (let at: TreeNode | undefined = node; at?.parent !== undefined; at = at.parent) keys.push(at.key!);
  let path = '';
  for (let i = keys.length - 1; i >= 0; i--) path = fieldPath(path, keys[i]);
  return path;
}
