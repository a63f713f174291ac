import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { PipelineMetrics } from '#pipeline';
import { AddRouteConfig, RefusalObserver } from '#platform';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by @CountsRejectedEvents(). */
    playsmartCountsRejectedEvents?: boolean;
  }
}

/**
 * Marks the route whose refusals are counted by reason (`ingest_requests_rejected_total`, `events_rejected_total`).
 * The error filter tells RejectedEventsCounter of every refusal, so every one is counted, whichever stage gives it: a
 * Fastify hook, the body parser, a guard, the validation pipe or the producer.
 */
export const CountsRejectedEvents = (): MethodDecorator => AddRouteConfig({ playsmartCountsRejectedEvents: true });

/** Counts the refusals of the routes marked @CountsRejectedEvents(): the request always, its events when it has them. */
@Injectable()
export class RejectedEventsCounter implements RefusalObserver {
  constructor(private readonly metrics: PipelineMetrics) {}

  refused(request: FastifyRequest, status: number, reason: string): void {
    if (request.routeOptions?.config?.playsmartCountsRejectedEvents === true) this.metrics.recordRejection(status, reason, request.body);
  }
}
