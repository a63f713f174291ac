import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import type { FastifyContextConfig } from 'fastify';

/**
 * Like `@RouteConfig()` from @nestjs/platform-fastify, but adds its keys to the route's Fastify config instead of
 * replacing it, so that several decorators (`@IpRateLimited()`, `@CountsRejectedEvents()`) can mark the same route in
 * any order.
 */
export function AddRouteConfig(config: FastifyContextConfig): MethodDecorator {
  return (_target, _key, descriptor) => {
    const handler = descriptor.value as object;
    const current = Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) as FastifyContextConfig | undefined;
    Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...current, ...config }, handler);
    return descriptor;
  };
}
