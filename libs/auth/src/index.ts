export * from './auth.module';
export * from './authentication.error';
export * from './jwt-auth.guard';
export * from './jwt.strategy';
export * from './subject-match.guard';
export * from './subject-rate-limit.guard';
export * from './verification-key';
