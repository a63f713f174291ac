import { Logger, Module, OnModuleInit } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { AppConfig, InjectConfig, REQUEST_AUTHENTICATOR } from '#platform';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtRequestAuthenticator } from './jwt-request.authenticator';
import { JwtStrategy } from './jwt.strategy';
import { authStartupWarnings } from './startup-warnings';

/** Bearer-token authentication, denied by default: importing this module protects every route not marked @Public(). */
@Module({
  imports: [PassportModule.register({ session: false })],
  providers: [
    JwtStrategy,
    { provide: APP_GUARD, useClass: JwtAuthGuard },
    { provide: REQUEST_AUTHENTICATOR, useClass: JwtRequestAuthenticator },
  ],
})
export class AuthModule implements OnModuleInit {
  constructor(@InjectConfig() private readonly config: AppConfig) {}

  onModuleInit(): void {
    const logger = new Logger('Auth');
    for (const warning of authStartupWarnings(this.config)) logger.warn(warning);
  }
}
