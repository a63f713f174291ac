import type { FastifyRequest } from 'fastify';

/**
 * Told of every error answer the main application's ErrorEnvelopeFilter sends, whichever stage refused the request (a
 * Fastify hook, the body parser, a guard, the pipe, a controller): how a library counts the refusals of its routes
 * without the filter knowing them. Provided under REFUSAL_OBSERVER by at most one module of the application.
 */
export interface RefusalObserver {
  refused(request: FastifyRequest, status: number, reason: string): void;
}

export const REFUSAL_OBSERVER = Symbol('REFUSAL_OBSERVER');
