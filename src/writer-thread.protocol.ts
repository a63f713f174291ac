import type { AppConfig, MetricValues } from '#platform';

/** What the main thread gives the writer thread when it starts it. */
export interface WriterThreadData {
  config: AppConfig;
}

/** Messages from the main thread to the writer thread. */
export type ToWriterThread = { type: 'metrics'; id: number } | { type: 'close' };

/** Messages from the writer thread to the main thread. */
export type FromWriterThread =
  | { type: 'started' }
  /** `values` undefined: the registry could not be read. */
  | { type: 'metrics'; id: number; values: MetricValues | undefined }
  /** Its final counts (undefined: they could not be read). */
  | { type: 'closed'; values: MetricValues | undefined }
  | { type: 'failed'; error: string };
