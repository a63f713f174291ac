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

/**
 * The path (bracket form) of the first container nested deeper than `maxDepth`, the body counting as depth 1.
 * Runs before class-transformer, which overflows its stack on deeply nested input.
 */
export function findTooDeep(root: unknown, maxDepth: number): string | undefined {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value: root, depth: 1, path: '' }];
  while (stack.length > 0) {
    const { value, depth, path } = stack.pop()!;
    if (!isContainer(value)) continue;
    if (depth > maxDepth) return path;
    const entries = Array.isArray(value)
      ? value.map((item, index) => [`${path}[${index}]`, item] as const)
      : Object.entries(value).map(([key, item]) => [path === '' ? key : `${path}.${key}`, item] as const);
    for (const [childPath, child] of entries) {
      if (isContainer(child)) stack.push({ value: child, depth: depth + 1, path: childPath });
    }
  }
  return undefined;
}
