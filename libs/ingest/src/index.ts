export { IngestBatchDto } from './dto/ingest-batch.dto';
export { IngestEventDto } from './dto/ingest-event.dto';
export { EVENT_TYPES, EVENT_TYPE_NAMES } from './event-types';
export type { EventTypeDefinition } from './event-types';
export { IngestModule } from './ingest.module';
