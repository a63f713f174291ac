import { fieldPath } from '#common';
import { isStorableText } from './text';

export interface JsonShapeLimits {
  maxBytes: number;
  maxDepth: number;
  maxKeys: number;
  maxItems: number;
}

// Keys that pollute prototypes when a consumer merges the object naively.
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/**
 * Why `customdata` is not acceptable, or undefined when it is. The walk stops as soon as the depth limit is
 * passed, so arbitrarily deep input costs no more than the limit.
 */
export function describeJsonObjectProblem(value: unknown, limits: JsonShapeLimits): string | undefined {
  if (!isContainer(value) || Array.isArray(value)) return 'must be a JSON object';
  const problem = describeContainer(value, 1, limits);
  if (problem !== undefined) return problem;
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > limits.maxBytes) return `must be at most ${limits.maxBytes} bytes as compact JSON, got ${bytes}`;
  return undefined;
}

function describeContainer(container: object, depth: number, limits: JsonShapeLimits): string | undefined {
  if (depth > limits.maxDepth) return `must be at most ${limits.maxDepth} levels deep`;
  if (Array.isArray(container)) {
    if (container.length > limits.maxItems) return `arrays must have at most ${limits.maxItems} items`;
    for (const item of container) {
      const problem = describeValue(item, depth, limits);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  const keys = Object.keys(container);
  if (keys.length > limits.maxKeys) return `objects must have at most ${limits.maxKeys} keys`;
  for (const key of keys) {
    if (FORBIDDEN_KEYS.has(key)) return `key "${key}" is not allowed`;
    if (!isStorableText(key)) return 'keys must not contain U+0000 or unpaired surrogates';
    const problem = describeValue((container as Record<string, unknown>)[key], depth, limits);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function describeValue(value: unknown, depth: number, limits: JsonShapeLimits): string | undefined {
  if (typeof value === 'string') {
    return isStorableText(value) ? undefined : 'strings must not contain U+0000 or unpaired surrogates';
  }
  return isContainer(value) ? describeContainer(value, depth + 1, limits) : undefined;
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
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value: root, depth: 1, path: '' }];
  while (stack.length > 0) {
    const { value, depth, path } = stack.pop()!;
    if (!isContainer(value)) continue;
    if (depth > maxDepth) return { path, reason: 'too_deep' };
    const entries: Array<readonly [string, unknown]> = Array.isArray(value)
      ? value.map((item: unknown, index) => [fieldPath(path, index), item] as const)
      : Object.entries(value).map(([key, item]: [string, unknown]) => [fieldPath(path, key), item] as const);
    if (!Array.isArray(value)) {
      const forbidden = Object.keys(value).find((key) => FORBIDDEN_KEYS.has(key));
      if (forbidden !== undefined) return { path: fieldPath(path, forbidden), reason: 'forbidden_key', key: forbidden };
    }
    // Pushed in reverse so that the first problem in document order is the one reported.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [childPath, child] = entries[i];
      if (isContainer(child)) stack.push({ value: child, depth: depth + 1, path: childPath });
    }
  }
  return undefined;
}
