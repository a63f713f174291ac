import type { AppConfig } from '#platform';

/** What AuthModule warns about at start-up: settings that work but that production should not run with. */
export function authStartupWarnings({ env, jwt }: AppConfig): string[] {
  const warnings: string[] = [];
  if (jwt.key.kind === 'secret' && jwt.key.isDevelopmentSecret) {
    warnings.push('JWT_SECRET is not set: using the documented development secret. Never do this in production.');
  }
  if (env === 'production' && jwt.key.kind !== 'secret' && jwt.issuer === undefined) {
    warnings.push(
      'JWT_ISSUER is not set: tokens are accepted from any issuer whose keys verify. Set it to your identity provider (RFC 8725 §3.8).',
    );
  }
  return warnings;
}
