import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, SecretOrKeyProvider, Strategy } from 'passport-jwt';
import { AppConfig, InjectConfig } from '#common';
import { AuthenticationError } from './authentication.error';
import { verificationKeyProvider } from './verification-key';

/** The authenticated caller, as the JWT's subject. */
export interface AuthenticatedPlayer {
  sub: string;
}

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(@InjectConfig() config: AppConfig) {
    const { jwt } = config;
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // passport-jwt hands the key to jsonwebtoken, which takes KeyObjects; its typings only list string and Buffer.
      secretOrKeyProvider: verificationKeyProvider(jwt) as unknown as SecretOrKeyProvider,
      algorithms: jwt.algorithms,
      issuer: jwt.issuer,
      audience: jwt.audience,
      ignoreExpiration: false,
      jsonWebTokenOptions: { clockTolerance: jwt.clockToleranceSeconds },
    });
  }

  validate(payload: Record<string, unknown>): AuthenticatedPlayer {
    // jsonwebtoken accepts tokens without exp; ours must expire. The subject must be a non-empty string.
    if (typeof payload.exp !== 'number' || typeof payload.sub !== 'string' || payload.sub === '') {
      throw new AuthenticationError('invalid_token');
    }
    return { sub: payload.sub };
  }
}
