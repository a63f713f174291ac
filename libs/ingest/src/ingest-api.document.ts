import type { ApiDocument } from '#platform';

/** What the OpenAPI document and Swagger UI say of the players' API, and the operation they open on arrival. */
export const INGEST_API_DOCUMENT: ApiDocument = {
  title: 'PlaySmart Ingest',
  description:
    'Send gameplay events in batches of up to 200. A 202 means the batch is safely queued; a worker writes it to ' +
    'the database within seconds. Use `npm run -s token -- <player-id>` for a development token.',
  version: '1.0',
  openOnArrival: { path: '/ingest/events', method: 'post' },
};
