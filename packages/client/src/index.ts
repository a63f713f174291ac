// @playsmart/client: the game-side client of POST /ingest/events. Runs wherever there is fetch (browsers, React
// Native, Node); what only Node has is in @playsmart/client/node.
export { createIngestClient, MAX_BATCH_EVENTS, CONFIG_REFRESH_MS, KEEPALIVE_EVENT_BYTES, SAVE_DELAY_MS } from './client.js';
export { browserLifecycle } from './browser-lifecycle.js';
export { BrowserStorage, IndexedDbStorage, LocalStorageStorage } from './browser-storage.js';
export type { IngestClient, IngestClientOptions, TrackOptions } from './client.js';
export type { ClientConfig } from './config.js';
export { MemoryStorage } from './memory-storage.js';
export { systemClock } from './system.js';
export type {
  BatchOutcome,
  ClientError,
  Clock,
  DropReason,
  FetchLike,
  FieldProblem,
  Lifecycle,
  LifecycleEvent,
  RequestLike,
  ResponseLike,
  Stats,
  Storage,
  WireEvent,
} from './types.js';
