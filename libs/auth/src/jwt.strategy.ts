import { Injectable, Logger } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, SecretOrKeyProvider, Strategy } from 'passport-jwt';
import { AppConfig, InjectConfig, JwtConfig } from '#platform';
import { AuthenticationError } from './authentication.error';
import { RefusalLog } from './refusal-log';
import { checkClaims, VerifiedToken } from './token-claims';
import { verificationKeyProvider } from './verification-key';

/** The authenticated caller, as the JWT's subject, and the game the token is for (JWT_GAME_CLAIM) when it names one. */
export interface AuthenticatedPlayer {
  sub: string;
  game?: string;
}

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  private readonly jwt: JwtConfig;
  private readonly refusals: RefusalLog;

  constructor(@InjectConfig() config: AppConfig) {
    const { jwt } = config;
    const refusals = new RefusalLog(new Logger('Auth'));
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // passport-jwt hands the key to jsonwebtoken, which takes KeyObjects; its typings only list string and Buffer.
      secretOrKeyProvider: verificationKeyProvider(jwt, refusals) as unknown as SecretOrKeyProvider,
      algorithms: jwt.algorithms,
      issuer: jwt.issuer,
      audience: jwt.audience,
      ignoreExpiration: false,
      // complete: validate() gets the header too, for typ.
      jsonWebTokenOptions: { clockTolerance: jwt.clockToleranceSeconds, complete: true },
    });
    this.jwt = jwt;
    this.refusals = refusals;
  }

  validate(token: VerifiedToken): AuthenticatedPlayer {
    const checked = checkClaims(token, this.jwt, Date.now() / 1000);
    if ('refused' in checked) {
      this.refusals.refused(checked.refused);
      throw new AuthenticationError('invalid_token');
    }
    return checked.player;
  }
}
