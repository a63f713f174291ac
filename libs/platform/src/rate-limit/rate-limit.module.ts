import { Global, Module } from '@nestjs/common';
import { RateLimiter } from './token-bucket';

/** The shared RateLimiter, on the shared fail-fast Redis client. */
@Global()
@Module({
  providers: [RateLimiter],
  exports: [RateLimiter],
})
export class RateLimitModule {}
