export { BASIC_AUTH_REALM, basicAuthVerifier } from './admin/basic-auth';
export { LoginThrottle } from './admin/login-throttle';
export { API_DOCUMENT, buildOpenApiDocument, configureApp, createFastifyAdapter, loadConfigOrExit } from './app/create-app';
export type { ApiDocument } from './app/create-app';
export { HttpCoreModule } from './app/http-core.module';
export { ThreadCoreModule } from './app/thread-core.module';
export { OPS_ROUTES, createOpsApp } from './app/ops-app';
export type { OpsRoutes } from './app/ops-app';
export { startApp } from './app/start-app';
export { loadConfig } from './config/app-config';
export type {
  AdminConfig,
  AppConfig,
  EmbeddedDatabaseConfig,
  EventStorageConfig,
  JwtConfig,
  PartitionInterval,
  QueueConfig,
  RedisConnectionConfig,
  RedisNode,
  RedisTopology,
  ValidationLimits,
} from './config/app-config';
export { APP_CONFIG, InjectConfig, configFromProcessEnv } from './config/config.module';
export { ApiError, errorBody, fieldPath } from './errors/api-error';
export type { ErrorBody, ErrorDetail } from './errors/api-error';
export { ApiErrorResponse } from './errors/error-envelope.dto';
export { bodyTooLarge } from './errors/error-reasons';
export type { ErrorReason } from './errors/error-reasons';
export { REFUSAL_OBSERVER } from './errors/refusal-observer';
export type { RefusalObserver } from './errors/refusal-observer';
export { ReadinessChecks } from './health/readiness-checks';
export { acceptedInstance } from './http/dto-fast-path';
export { CrossOrigin } from './http/cors';
export { DtoValidationPipe } from './http/dto-validation.pipe';
export { REQUEST_AUTHENTICATOR } from './http/early-authentication';
export type { RequestAuthenticator } from './http/early-authentication';
export { JsonBodyText } from './http/json-body-text.decorator';
export { ACCEPTED_ENCODINGS, JSON_BODY_RULES } from './http/json-body.parser';
export type { JsonBodyRules } from './http/json-body.parser';
export { firstTooDeep } from './http/json-depth';
export { Precheck, precheckOf } from './http/precheck.decorator';
export { IS_PUBLIC } from './http/public.decorator';
export { AddRouteConfig } from './http/route-config';
export { ValidateNestedBy } from './http/validate-nested-by.decorator';
export { VALIDATOR_OPTIONS } from './http/validator-options';
export { describeError } from './logging/describe-error';
export { createPinoLogger, PinoLoggerService } from './logging/pino-logger';
export { connectionOutageLogger, OutageLog } from './logging/outage-log';
export { SecurityEventLog } from './logging/security-event-log';
export { DURATION_BUCKETS_SECONDS, METRICS_PREFIX, Metrics, MetricValues } from './metrics/metrics';
export { normalizeAddress } from './net/client-address';
export { IpRateLimited } from './rate-limit/ip-rate-limit';
export { applyRateLimit } from './rate-limit/rate-limit-reply';
export { RateLimiter, rateLimitKey } from './rate-limit/token-bucket';
export type { RateLimitDecision } from './rate-limit/token-bucket';
export { BullmqConnections, InjectRedis, REDIS_CLIENT } from './redis/redis-client.module';
export {
  bullmqConnection,
  closeBullmqConnection,
  createRedisConnection,
  describeRedis,
  type RedisConnection,
} from './redis/redis-connection';
export { fastFailRedisOptions, redisOptionsFromUrl, type RedisRole, workerRedisOptions } from './redis/redis-options';
export { CLUSTER_SLOTS, crc16, keySlot } from './redis/key-slot';
export { waitForReplicas } from './redis/replica-wait';
export { durabilityRisks, type RedisDurability } from './redis/redis-durability';
export { DeadlineExceeded, valueWithin, withDeadline } from './time/deadline';
export { parseRfc3339, rfc3339EpochMs } from './time/rfc3339';
