import { EventStore, IngestBatch, StoreUnavailable } from '#contract';

/**
 * When a group is written: once it holds `maxRows` events, or its share of the jobs the process takes at a time
 * (`maxBatches` / `maxGroupsInFlight`), or every one of them that is not already being written (no other can come), or
 * `maxWaitMs` after its first batch arrived; and then only while fewer than `maxGroupsInFlight` groups are being
 * written (until then it keeps growing up to `maxRows`).
 */
export interface WriteGroupLimits {
  maxRows: number;
  maxBatches: number;
  maxWaitMs: number;
  maxGroupsInFlight: number;
}

/**
 * About 20 batches of 200 events, and a wait far below a job's other delays. Measured with bench/coalesce-lever.ts
 * (bench/levers.md): PostgreSQL takes a group of 2,000 to 5,000 rows a third faster per row than one batch. With two
 * groups in flight, one is written while the jobs of the other complete and the next ones are fetched.
 */
export const WRITE_GROUP_LIMITS: Omit<WriteGroupLimits, 'maxBatches'> = { maxRows: 4000, maxWaitMs: 5, maxGroupsInFlight: 2 };

interface Waiting {
  batch: IngestBatch;
  resolve: (inserted: number) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers the batches the jobs of every shard write into groups, each written by one statement
 * (EventStore.insertBatches), at most `maxGroupsInFlight` at a time (so at most that many pool connections), and
 * settles each job's write on its own: with its batch's rows once the group committed. A group the store refuses
 * is written again batch by batch, so that only the batch it refuses fails (and spends an attempt); a store out of
 * reach fails every batch of the group with StoreUnavailable, which the worker waits out. A group never holds the same
 * batch_id twice (a client's retried batch delivered beside the first): the second starts the next group, so each
 * job's count is its own.
 */
export class BatchCoalescer {
  /** The group still open to batches. */
  private group: Waiting[] = [];
  private rows = 0;
  private timer?: NodeJS.Timeout;
  /** The open group has waited its maxWaitMs: it goes out as soon as a group in flight is done. */
  private due = false;
  /** Groups closed to batches, waiting for one in flight to be done. */
  private readonly closed: Waiting[][] = [];
  private inFlight = 0;
  /** The batches of the closed groups and of those being written. */
  private closedOrInFlight = 0;

  /** A group's share of the jobs the process takes at a time: the groups in flight split them. */
  private readonly share: number;

  constructor(
    private readonly store: EventStore,
    private readonly limits: WriteGroupLimits,
  ) {
    this.share = Math.ceil(limits.maxBatches / limits.maxGroupsInFlight);
  }

  /** Resolves to the number of the batch's events inserted, once they and its receipt are committed. */
  write(batch: IngestBatch): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const rows = batch.events.length;
      if (
        this.group.length > 0 &&
        (this.rows + rows > this.limits.maxRows || this.group.some((w) => w.batch.batch_id === batch.batch_id))
      ) {
        this.close();
      }
      this.group.push({ batch, resolve, reject });
      this.rows += rows;
      if (
        this.rows >= this.limits.maxRows ||
        this.group.length >= this.share ||
        this.group.length + this.closedOrInFlight >= this.limits.maxBatches
      ) {
        this.close();
      } else if (!this.due) {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.due = true;
          this.startWrites();
        }, this.limits.maxWaitMs);
      }
      this.startWrites();
    });
  }

  private close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due = false;
    this.closed.push(this.group);
    this.closedOrInFlight += this.group.length;
    this.group = [];
    this.rows = 0;
  }

  private startWrites(): void {
    while (this.inFlight < this.limits.maxGroupsInFlight) {
      if (this.closed.length === 0 && this.due && this.group.length > 0) this.close();
      const group = this.closed.shift();
      if (group === undefined) return;
      this.inFlight++;
      void writeGroup(this.store, group).finally(() => {
        this.inFlight--;
        this.closedOrInFlight -= group.length;
        this.startWrites();
      });
    }
  }
}

/** Settles every write of the group; never rejects. */
async function writeGroup(store: EventStore, group: readonly Waiting[]): Promise<void> {
  try {
    const inserted = await store.insertBatches(group.map(({ batch }) => batch));
    group.forEach(({ resolve }, i) => resolve(inserted[i]));
    return;
  } catch (error) {
    if (group.length === 1 || error instanceof StoreUnavailable) {
      for (const { reject } of group) reject(error);
      return;
    }
  }
  for (const { batch, resolve, reject } of group) {
    try {
      const [inserted] = await store.insertBatches([batch]);
      resolve(inserted);
    } catch (error) {
      reject(error);
    }
  }
}
