import { SetMetadata } from '@nestjs/common';
import { AddRouteConfig } from './route-config';

export const IS_PUBLIC = 'playsmart:isPublic';

/**
 * Opens a route, or every route of a controller, to unauthenticated callers; every other route requires a bearer
 * token. It marks the Nest handler (for the global guard) and the Fastify route (for the authentication that runs
 * before the body is read, registerEarlyAuthentication).
 */
export const Public = (): MethodDecorator & ClassDecorator =>
  ((target: object, key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (descriptor !== undefined) {
      SetMetadata(IS_PUBLIC, true)(target, key!, descriptor);
      AddRouteConfig({ playsmartPublic: true })(target, key!, descriptor);
      return descriptor;
    }
    SetMetadata(IS_PUBLIC, true)(target as () => void);
    const prototype = (target as { prototype: Record<string, unknown> }).prototype;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const method = Object.getOwnPropertyDescriptor(prototype, name);
      if (name !== 'constructor' && typeof method?.value === 'function') AddRouteConfig({ playsmartPublic: true })(prototype, name, method);
    }
    return undefined;
  }) as MethodDecorator & ClassDecorator;
