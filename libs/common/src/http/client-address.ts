import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';

/**
 * The client's address: what a trusted proxy says (request.ip, from X-Forwarded-For under TRUST_PROXY) when it is an
 * IP address, else the socket's. A proxy that passes a client's garbage through must not let that client choose any
 * string as its rate-limit key.
 */
export function clientAddress(request: FastifyRequest): string {
  return isIP(request.ip) !== 0 ? request.ip : (request.socket.remoteAddress ?? request.ip);
}
