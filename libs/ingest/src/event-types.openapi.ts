import type { Type } from '@nestjs/common';
import { getSchemaPath, OpenAPIObject, SchemaObject } from '@nestjs/swagger';
import type { ApiDocument } from '#platform';
import { IngestEventDto } from './dto/ingest-event.dto';
import { describeEventTypes, EVENT_TYPE_NAMES, eventTypeDefinition } from './event-types';

const schemaName = (model: Type<unknown>) => getSchemaPath(model).slice('#/components/schemas/'.length);

/** Each customdata DTO of the catalogue, with the types whose customdata it describes. */
function customdataDtos(): Map<Type<object>, string[]> {
  const dtos = new Map<Type<object>, string[]>();
  for (const name of EVENT_TYPE_NAMES) {
    const dto = eventTypeDefinition(name)?.customdata;
    if (dto !== undefined) dtos.set(dto, [...(dtos.get(dto) ?? []), name]);
  }
  return dtos;
}

const list = (names: string[]) => names.map((name) => `\`${name}\``).join(', ');

/**
 * The catalogue in the OpenAPI document, read when the document is built rather than when IngestEventDto's decorators
 * ran, so that a type added since (a test's) is in it too: `type` lists each type with its description, and each
 * customdata DTO is a schema of its own, which `customdata` refers to, saying which types use it.
 */
export const EVENT_TYPES_IN_OPENAPI: Required<Pick<ApiDocument, 'extraModels' | 'amend'>> = {
  extraModels: () => [...customdataDtos().keys()],
  amend: (document: OpenAPIObject) => {
    const schemas = document.components?.schemas ?? {};
    const properties = (schemas[schemaName(IngestEventDto)] as SchemaObject | undefined)?.properties;
    if (properties === undefined) return;
    Object.assign(properties.type, { enum: [...EVENT_TYPE_NAMES], description: `One of:\n\n${describeEventTypes()}` });

    const dtos = customdataDtos();
    if (dtos.size === 0) return;
    for (const [dto, types] of dtos) {
      const schema = schemas[schemaName(dto)] as SchemaObject;
      schema.description ??= `The customdata of ${list(types)} events.`;
      // Validated with the body's options: a key the DTO does not declare is refused.
      schema.additionalProperties = false;
    }
    // OpenAPI 3.0 cannot choose a schema by a sibling property's value: the description says which type takes which.
    const { type: _object, additionalProperties: _any, description, ...generic } = properties.customdata as SchemaObject;
    properties.customdata = {
      ...generic,
      description:
        `${description}\n\nThese types' customdata must satisfy a schema of their own; every other type's may be any object:\n\n` +
        [...dtos].map(([dto, types]) => `- ${list(types)}: \`${schemaName(dto)}\``).join('\n'),
      anyOf: [
        ...[...dtos.keys()].map((dto) => ({ $ref: getSchemaPath(dto) })),
        { type: 'object', additionalProperties: true, description: 'The customdata of a type without a schema of its own.' },
      ],
    };
  },
};
