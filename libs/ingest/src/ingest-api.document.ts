import type { ApiDocument } from '#platform';
import { EVENT_TYPES_IN_OPENAPI } from './event-types.openapi';

/**
 * What the OpenAPI document and Swagger UI say of the players' API beyond its decorators: the operation they open on
 * arrival, and the event-type catalogue as it is when the document is built (EVENT_TYPES_IN_OPENAPI).
 */
export const INGEST_API_DOCUMENT: ApiDocument = {
  title: 'PlaySmart Ingest',
  description:
    'Send gameplay events in batches of up to 200. A 202 means the batch is safely queued; a worker writes it to ' +
    'the database within seconds. Use `npm run -s token -- <player-id>` for a development token.',
  version: '1.0',
  openOnArrival: { path: '/ingest/events', method: 'post' },
  ...EVENT_TYPES_IN_OPENAPI,
};
