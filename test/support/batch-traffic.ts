import type { Pool } from 'pg';
import { eventually, exampleBatch, tokenFor } from './test-app';

/** A batch's answer: its status (0: none within 2.5 s, or the connection failed), when it was sent, to which service. */
export interface Answer {
  url: string;
  status: number;
  ms: number;
  at: number;
  batchId?: string;
}

/** One batch of exampleBatch()'s three events; a request that does not answer within 2.5 s is a hang (status 0). */
export async function sendBatch(url: string): Promise<Answer> {
  const started = Date.now();
  const clock = performance.now();
  try {
    const response = await fetch(`${url}/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor('device-abc-123')}` },
      body: JSON.stringify(exampleBatch()),
      signal: AbortSignal.timeout(2500),
    });
    const body = (await response.json()) as { batch_id?: string };
    return { url, status: response.status, ms: performance.now() - clock, at: started, batchId: body.batch_id };
  } catch {
    return { url, status: 0, ms: performance.now() - clock, at: started };
  }
}

/**
 * Batches four at a time (as a gateway sees its clients), in turn to each of `targets` (a load balancer's list, which
 * the test may change), every answer kept.
 */
export class Traffic {
  readonly answers: Answer[] = [];
  private sent = 0;
  private stopping = false;
  private running?: Promise<void>;

  constructor(readonly targets: string[]) {}

  /** Sends until `done()` says so, or for `timeoutMs`. */
  async until(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done() && Date.now() < deadline) {
      const urls = [0, 1, 2, 3].map(() => this.targets[this.sent++ % this.targets.length]);
      this.answers.push(...(await Promise.all(urls.map((url) => sendBatch(url)))));
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Sends in the background until stop(), for at most `timeoutMs`. */
  start(timeoutMs = 300_000): void {
    this.running = this.until(() => this.stopping, timeoutMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  /** Resolves once `count` more answers have come. */
  async more(count: number, timeoutMs = 30_000): Promise<void> {
    const target = this.answers.length + count;
    await eventually(() => Promise.resolve(this.answers.length >= target ? true : undefined), timeoutMs);
  }
}

/** Resolves once every batch of `batchIds` has its three events stored, each once; fails after `timeoutMs`. */
export async function writtenOnce(db: Pool, batchIds: string[], timeoutMs = 30_000): Promise<void> {
  await eventually(async () => {
    const { rows } = await db.query<{ batch_id: string; count: string }>(
      'SELECT batch_id, count(*) FROM events WHERE batch_id = ANY($1::uuid[]) GROUP BY batch_id',
      [batchIds],
    );
    return rows.length === batchIds.length && rows.every((row) => row.count === '3') ? true : undefined;
  }, timeoutMs);
}
