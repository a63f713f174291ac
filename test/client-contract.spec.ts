import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EVENT_TYPES, type EventTypeDefinition } from '#ingest';
import { parseClientConfig } from '../packages/client/src/config';
import { defaultClientConfig } from '../packages/client/src/testing/fakes';

// The game client (packages/client) imports nothing of the server's (tools/library-boundaries.mjs). This holds its idea
// of GET /ingest/client-config, and the answer its tests use, to the server's: the committed OpenAPI document (which
// `npm run openapi:check` keeps exact) and the event-type catalogue.

interface Schema {
  $ref?: string;
  allOf?: Schema[];
  example?: unknown;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
}

const schemas = (JSON.parse(readFileSync('openapi.json', 'utf8')) as { components: { schemas: Record<string, Schema> } }).components
  .schemas;
const named = (ref: string) => schemas[ref.split('/').pop() ?? ''];

/** The answer the schema `schema` documents, from its examples (an array of objects: one item). */
function documented(schema: Schema): unknown {
  if (schema.$ref !== undefined) return documented(named(schema.$ref));
  if (schema.allOf?.length === 1) return documented(schema.allOf[0]);
  if (schema.items?.$ref !== undefined) return [documented(schema.items)];
  if (schema.properties === undefined) return schema.example;
  assert.deepEqual(schema.required?.toSorted(), Object.keys(schema.properties).toSorted(), 'every field is always there');
  return Object.fromEntries(Object.entries(schema.properties).map(([key, property]) => [key, documented(property)]));
}

describe('the game client and GET /ingest/client-config', () => {
  it("the client's default answer is the documented one, field for field, with the server's catalogue", () => {
    const answer = documented({ $ref: '#/components/schemas/ClientConfigDto' }) as Record<string, unknown>;
    answer.event_types = Object.entries(EVENT_TYPES as Record<string, EventTypeDefinition>).map(([name, definition]) => ({
      name,
      requires_custom_event_name: definition.requiresCustomEventName === true,
    }));
    assert.deepEqual(defaultClientConfig(), answer);
  });

  it('the client reads the documented answer', () => {
    const answer = documented({ $ref: '#/components/schemas/ClientConfigDto' });
    assert.deepEqual(parseClientConfig(JSON.stringify(answer)), answer);
    assert.equal(parseClientConfig(JSON.stringify({ ...(answer as object), custom_event_name: { pattern: '(' } })), undefined);
  });
});
