import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'playsmart:isPublic';

/** Opens a route or controller to unauthenticated callers; every other route requires a bearer token. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
