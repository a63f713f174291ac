import { hasUnstorableCharacter } from './encoding.js';
import type { FieldProblem } from './types.js';

/** The answer of GET /ingest/client-config (the server's ClientConfigDto). */
export interface ClientConfig {
  enabled: boolean;
  flush_at: number;
  flush_interval_ms: number;
  max_batch_events: number;
  max_batch_bytes: number;
  event_types: { name: string; requires_custom_event_name: boolean }[];
  custom_event_name: { pattern: string; min_length: number; max_length: number };
  customdata_limits: { max_bytes: number; max_depth: number; max_keys: number; max_array_items: number; forbidden_keys: string[] };
  timestamp?: { max_future_seconds: number; max_age_seconds: number | null };
}

/** The answer if it has the shape the client relies on, else undefined (an older or a foreign server). */
export function parseClientConfig(text: string): ClientConfig | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const config = value as Partial<ClientConfig> | null;
  const isCount = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (
    typeof config !== 'object' ||
    config === null ||
    typeof config.enabled !== 'boolean' ||
    !isCount(config.flush_at) ||
    !isCount(config.flush_interval_ms) ||
    !isCount(config.max_batch_events) ||
    !isCount(config.max_batch_bytes) ||
    !Array.isArray(config.event_types) ||
    typeof config.custom_event_name?.pattern !== 'string' ||
    typeof config.customdata_limits !== 'object' ||
    !Array.isArray(config.customdata_limits.forbidden_keys)
  ) {
    return undefined;
  }
  try {
    new RegExp(config.custom_event_name.pattern, 'u');
  } catch {
    return undefined;
  }
  return config as ClientConfig;
}

/** A configuration compiled for the checks track() runs on every event. */
export interface EventRules {
  types: Map<string, boolean>;
  customEventName: { pattern: RegExp; min: number; max: number };
  customdata: ClientConfig['customdata_limits'] & { forbidden: Set<string> };
}

export function eventRules(config: ClientConfig): EventRules {
  return {
    types: new Map(config.event_types.map(({ name, requires_custom_event_name }) => [name, requires_custom_event_name])),
    customEventName: {
      pattern: new RegExp(config.custom_event_name.pattern, 'u'),
      min: config.custom_event_name.min_length,
      max: config.custom_event_name.max_length,
    },
    customdata: { ...config.customdata_limits, forbidden: new Set(config.customdata_limits.forbidden_keys) },
  };
}

/**
 * What the server would refuse in an event, as far as it is cheap to see: always an unstorable character (U+0000, an
 * unpaired surrogate) and customdata that is not a plain object; with `rules` (a client-config was read) also an
 * unknown type, customEventName against its rules, and customdata over the published limits. `customdataBytes` is the
 * compact JSON's UTF-8 size, which the caller has computed already.
 */
export function checkEvent(
  type: string,
  customEventName: string | undefined,
  customdata: unknown,
  customdataBytes: number,
  rules: EventRules | undefined,
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (typeof type !== 'string' || type.length === 0 || hasUnstorableCharacter(type))
    problems.push({ field: 'type', message: 'not a valid type' });
  if (customEventName !== undefined && (typeof customEventName !== 'string' || hasUnstorableCharacter(customEventName))) {
    problems.push({ field: 'customEventName', message: 'must be a string' });
  }
  if (customdata !== undefined && (typeof customdata !== 'object' || customdata === null || Array.isArray(customdata))) {
    problems.push({ field: 'customdata', message: 'must be a JSON object' });
    return problems;
  }
  if (rules !== undefined && problems.length === 0) {
    const requires = rules.types.get(type);
    if (requires === undefined) problems.push({ field: 'type', message: `unknown event type ${type}` });
    else if (requires && customEventName === undefined) problems.push({ field: 'customEventName', message: `required for ${type}` });
    else if (!requires && customEventName !== undefined) problems.push({ field: 'customEventName', message: `not allowed for ${type}` });
    else if (customEventName !== undefined) {
      const length = [...customEventName].length;
      const { pattern, min, max } = rules.customEventName;
      if (length < min || length > max || !pattern.test(customEventName)) {
        problems.push({ field: 'customEventName', message: `must match ${pattern.source} (${min}–${max} characters)` });
      }
    }
    if (customdata !== undefined && customdataBytes > rules.customdata.max_bytes) {
      problems.push({ field: 'customdata', message: `over ${rules.customdata.max_bytes} bytes` });
    }
  }
  if (customdata !== undefined) {
    const problem = checkValue(customdata, 1, rules);
    if (problem !== undefined) problems.push({ field: 'customdata', message: problem });
  }
  return problems;
}

/** The first problem in a customdata value at nesting `depth` (customdata itself is 1), or undefined. */
function checkValue(value: unknown, depth: number, rules: EventRules | undefined): string | undefined {
  if (typeof value === 'string') return hasUnstorableCharacter(value) ? 'holds U+0000 or an unpaired surrogate' : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  const limits = rules?.customdata;
  if (limits !== undefined && depth > limits.max_depth) return `nested deeper than ${limits.max_depth} levels`;
  if (Array.isArray(value)) {
    if (limits !== undefined && value.length > limits.max_array_items) return `an array over ${limits.max_array_items} items`;
    for (const item of value) {
      const problem = checkValue(item, depth + 1, rules);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  const keys = Object.keys(value);
  if (limits !== undefined && keys.length > limits.max_keys) return `an object over ${limits.max_keys} keys`;
  for (const key of keys) {
    if (limits?.forbidden.has(key)) return `the key ${key} is not allowed`;
    if (hasUnstorableCharacter(key)) return 'a key holds U+0000 or an unpaired surrogate';
    const problem = checkValue((value as Record<string, unknown>)[key], depth + 1, rules);
    if (problem !== undefined) return problem;
  }
  return undefined;
}
