import { parseRfc3339 } from '#platform';

/**
 * An event of a batch the gateway accepted, as the client sent it: the one definition of an event's fields.
 * IngestEventDto implements it (checked at compile time), a job carries it untouched (the body's text), and
 * EVENT_COLUMNS says where each of its fields is stored. docs/extending.md lists what adding a field takes.
 */
export interface AcceptedEvent {
  event_id?: string;
  type: string;
  timestamp: string;
  customEventName?: string;
  customdata?: Record<string, unknown>;
}

/** true when A and B have the same property names: holds a DTO to the event it describes, at compile time. */
export type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : false;

/** The PostgreSQL types an event's column may have (those the batch INSERT knows how to send). */
export type EventColumnType = 'uuid' | 'text' | 'timestamptz' | 'jsonb' | 'bigint';

/** Where an event's field is stored, and the value stored: undefined refuses the event (the job fails). */
export interface EventColumn<E = AcceptedEvent> {
  readonly column: string;
  readonly type: EventColumnType;
  readonly value: (event: E, position: EventPosition) => unknown;
}

/** Where an event sits, for the values derived from it (the id of an event sent without one). */
export interface EventPosition {
  batchId: string;
  index: number;
}

/** A table of columns with one entry per field of the event type E, so that a field without a column does not compile. */
export type EventColumns<E> = { readonly [K in keyof Required<E>]: EventColumn<E> };

/**
 * The `event_id` of an event sent without one: its batch's id with the last three hex digits replaced by the event's
 * position. Derived rather than drawn at random, so that a job delivered twice writes the same ids and its second
 * delivery stores nothing. Within a batch the ids differ by position; across batches they keep 110 of the batch id's
 * random bits.
 */
export function derivedEventId(batchId: string, index: number): string {
  return `${batchId.slice(0, 33)}${index.toString(16).padStart(3, '0')}`;
}

/**
 * The columns of `events` that come from the event, in the order the batch INSERT sends them. The others come from
 * the batch (user_id, game_id, received_at, batch_id, clock_skew_ms) or from the database (written_at). persistence's
 * event.entity.spec.ts holds this table and the entity to each other, and operations.e2e-spec.ts the entity and the
 * migrations.
 */
export const EVENT_COLUMNS = {
  event_id: {
    column: 'event_id',
    type: 'uuid',
    value: (event: AcceptedEvent, { batchId, index }: EventPosition) => event.event_id?.toLowerCase() ?? derivedEventId(batchId, index),
  },
  type: { column: 'type', type: 'text', value: (event: AcceptedEvent) => event.type },
  customEventName: { column: 'custom_event_name', type: 'text', value: (event: AcceptedEvent) => event.customEventName ?? null },
  // The client's timestamp as a UTC instant, ISO 8601 with up to microseconds.
  timestamp: { column: 'occurred_at', type: 'timestamptz', value: (event: AcceptedEvent) => parseRfc3339(event.timestamp)?.utcIso },
  customdata: { column: 'customdata', type: 'jsonb', value: (event: AcceptedEvent) => event.customdata ?? null },
} as const satisfies EventColumns<AcceptedEvent>;

type Columns = typeof EVENT_COLUMNS;

/** An event as it is written: a value per column of EVENT_COLUMNS, by column name. */
export type StoredEvent = {
  -readonly [K in keyof Columns as Columns[K]['column']]: Exclude<ReturnType<Columns[K]['value']>, undefined>;
};
