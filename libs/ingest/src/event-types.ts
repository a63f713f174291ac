import type { Type } from '@nestjs/common';

export interface EventTypeDefinition {
  /** What the event means, shown in the API documentation. */
  description: string;
  /** `customEventName` is required for this type and refused for every other. */
  requiresCustomEventName?: boolean;
  /** An optional class-validator DTO that this type's `customdata` must satisfy. */
  customdata?: Type<object>;
}

/**
 * The event-type catalogue. Adding a type is one entry here (plus, optionally, a customdata DTO): validation reads it,
 * and the OpenAPI document lists its names, descriptions and customdata schemas (EVENT_TYPES_IN_OPENAPI). The worker
 * does not: it stores whatever type the gateway accepted.
 */
export const EVENT_TYPES = {
  SessionStarted: { description: 'The player opened the game.' },
  SessionEnded: { description: 'The player closed or backgrounded the game.' },
  LevelStarted: { description: 'A level began.' },
  LevelCompleted: { description: 'A level was completed.' },
  LevelFailed: { description: 'A level was failed or abandoned.' },
  AdImpression: { description: 'An ad was shown.' },
  AdClicked: { description: 'An ad was clicked.' },
  Purchase: { description: 'An in-game purchase was made.' },
  Custom: { description: 'A studio-defined event named by customEventName.', requiresCustomEventName: true },
} as const satisfies Record<string, EventTypeDefinition>;

export type EventType = keyof typeof EVENT_TYPES;

export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as EventType[];

export function eventTypeDefinition(type: unknown): EventTypeDefinition | undefined {
  return typeof type === 'string' && Object.hasOwn(EVENT_TYPES, type)
    ? (EVENT_TYPES as Record<string, EventTypeDefinition>)[type]
    : undefined;
}

/** The catalogue in words, for the OpenAPI document and Swagger UI: each type with what it means. */
export function describeEventTypes(): string {
  const definitions = EVENT_TYPES as Record<string, EventTypeDefinition>;
  return EVENT_TYPE_NAMES.map((name) => `- \`${name}\`: ${definitions[name].description}`).join('\n');
}
