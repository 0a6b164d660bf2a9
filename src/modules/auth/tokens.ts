import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import { LRUCache } from 'lru-cache';
import type { Config } from '../../config.ts';
import { ConfigError } from '../../config.ts';
import { fromPublicId, toPublicId } from '../../platform/ids.ts';
import { AppError } from '../../platform/problem.ts';

type Alg = 'EdDSA' | 'ES256';
type VerifyKey = { alg: Alg; key: Awaited<ReturnType<typeof importJWK>> };

export type AccessClaims = { userId: string; sessionId: string; tokenId: string };

const TYP = 'at+jwt'; // RFC 9068
const LEEWAY_S = 30;

const algOf = (jwk: JWK): Alg | undefined =>
  jwk.kty === 'OKP' && jwk.crv === 'Ed25519'
    ? 'EdDSA'
    : jwk.kty === 'EC' && jwk.crv === 'P-256'
      ? 'ES256'
      : undefined;

/** The public half of an EdDSA/ES256 JWK: the same members without the private `d`. */
const publicPart = (jwk: JWK, alg: Alg): JWK => ({
  kty: jwk.kty,
  crv: jwk.crv,
  x: jwk.x,
  ...(jwk.y ? { y: jwk.y } : {}),
  kid: jwk.kid,
  alg,
  use: 'sig',
});

async function generateSigningJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `dev-${randomUUID()}`, alg: 'EdDSA' };
}

/** Dev keeps its key under DATA_DIR so tokens survive reloads; tests use a fresh one per process. */
async function devSigningJwk(config: Config): Promise<JWK> {
  if (config.env === 'test') return generateSigningJwk();
  const file = join(config.dataDir, 'keys', 'jwt-signing.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as JWK;
  } catch {
    const jwk = await generateSigningJwk();
    await mkdir(join(config.dataDir, 'keys'), { recursive: true, mode: 0o700 });
    await writeFile(file, JSON.stringify(jwk), { mode: 0o600 });
    return jwk;
  }
}

/**
 * Access tokens: JWTs signed by one asymmetric key, verified against every published key. Each key's
 * algorithm is pinned by the key itself, so `alg: none`, HS256-with-the-public-key and a token from
 * another key under a known `kid` all fail.
 */
export async function createTokenService(config: Config) {
  const signingJwk = (config.auth.signingKey as JWK | undefined) ?? (await devSigningJwk(config));
  const signingAlg = algOf(signingJwk);
  if (!signingAlg || !signingJwk.kid || !signingJwk.d) {
    throw new ConfigError([
      'JWT_SIGNING_KEY: must be a private Ed25519 (OKP) or P-256 (EC) JWK with a `kid`',
    ]);
  }
  const signingKey = await importJWK(signingJwk, signingAlg);
  const published: JWK[] = [publicPart(signingJwk, signingAlg)];
  for (const jwk of config.auth.verifyKeys as JWK[]) {
    const alg = algOf(jwk);
    if (!alg || !jwk.kid)
      throw new ConfigError(['JWT_VERIFY_KEYS: each key must be an Ed25519 or P-256 JWK with a `kid`']);
    if (!published.some((key) => key.kid === jwk.kid)) published.push(publicPart(jwk, alg));
  }
  const verifyKeys = new Map<string, VerifyKey>();
  for (const jwk of published) {
    verifyKeys.set(jwk.kid!, { alg: jwk.alg as Alg, key: await importJWK(jwk, jwk.alg) });
  }
  const issuer = config.publicUrl;
  const audience = config.publicUrl;
  const ttl = config.auth.accessTokenTtlS;
  const unauthenticated = (detail: string) =>
    new AppError('unauthenticated', {
      detail,
      headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
    });

  // A signature verified once stays valid until the token expires: verifying it again on every request
  // (an EdDSA/ECDSA check, ~7 % of a request's CPU) buys nothing. Revocation is the session check's job.
  const verified = new LRUCache<string, AccessClaims>({ max: 10_000, ttlAutopurge: false });

  return {
    ttlSeconds: ttl,
    jwks: { keys: published },

    sign(claims: { userId: string; sessionId: string }): Promise<string> {
      return new SignJWT({ sid: toPublicId('ses', claims.sessionId) })
        .setProtectedHeader({ alg: signingAlg, kid: signingJwk.kid!, typ: TYP })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(toPublicId('usr', claims.userId))
        .setIssuedAt()
        .setExpirationTime(`${ttl}s`)
        .setJti(randomUUID())
        .sign(signingKey);
    },

    async verify(token: string): Promise<AccessClaims> {
      const known = verified.get(token);
      if (known) return known;
      let kid: string | undefined;
      try {
        kid = decodeProtectedHeader(token).kid;
      } catch {
        throw unauthenticated('The access token is malformed');
      }
      const key = kid ? verifyKeys.get(kid) : undefined;
      if (!key) throw unauthenticated('The access token is signed by an unknown key');
      try {
        const { payload } = await jwtVerify(token, key.key, {
          algorithms: [key.alg],
          issuer,
          audience,
          typ: TYP,
          clockTolerance: LEEWAY_S,
          requiredClaims: ['exp', 'iat', 'sub', 'jti'],
        });
        // A valid signature is not enough: a token this service would never have issued (living far
        // longer than ACCESS_TOKEN_TTL_S, or issued in the future) is refused too.
        const nowS = Math.floor(Date.now() / 1000);
        if (payload.iat! > nowS + LEEWAY_S) throw new Error('issued in the future');
        if (payload.exp! - payload.iat! > ttl + LEEWAY_S)
          throw new Error('lifetime beyond the configured one');
        const userId = fromPublicId('usr', payload.sub!);
        const sessionId = typeof payload.sid === 'string' ? fromPublicId('ses', payload.sid) : undefined;
        if (!userId || !sessionId) throw new Error('unexpected claims');
        const claims = { userId, sessionId, tokenId: payload.jti! };
        const cacheMs = (payload.exp! + LEEWAY_S) * 1000 - Date.now();
        if (cacheMs > 0) verified.set(token, claims, { ttl: cacheMs });
        return claims;
      } catch (error) {
        const expired = (error as { code?: string }).code === 'ERR_JWT_EXPIRED';
        throw unauthenticated(expired ? 'The access token has expired' : 'The access token is invalid');
      }
    },
  };
}

export type TokenService = Awaited<ReturnType<typeof createTokenService>>;
