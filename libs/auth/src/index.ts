export { AuthModule } from './auth.module';
export { AuthenticationError } from './authentication.error';
export type { AuthenticatedPlayer } from './jwt.strategy';
