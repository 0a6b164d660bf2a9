import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AppEnv } from '../../platform/app-env.ts';
import { AppError } from '../../platform/problem.ts';

const NAME = 'stowage_refresh'; // sent as __Host-stowage_refresh: Secure, Path=/, no Domain

export const readRefreshCookie = (c: Context<AppEnv>) => getCookie(c, NAME, 'host');

export function writeRefreshCookie(c: Context<AppEnv>, token: string): void {
  setCookie(c, NAME, token, {
    prefix: 'host',
    path: '/',
    secure: true,
    httpOnly: true,
    sameSite: 'Strict',
    maxAge: c.get('services').config.auth.refreshTokenTtlS,
  });
}

export const clearRefreshCookie = (c: Context<AppEnv>) =>
  deleteCookie(c, NAME, { prefix: 'host', path: '/', secure: true, httpOnly: true, sameSite: 'Strict' });

/**
 * Cookie-authenticated endpoints refuse cross-site callers: an `Origin` that is present must be the
 * API's own or one of CORS_ORIGINS. (SameSite=Strict already keeps the cookie off cross-site requests.)
 */
export function assertAllowedOrigin(c: Context<AppEnv>): void {
  const origin = c.req.header('origin');
  if (origin === undefined) return;
  const { config } = c.get('services');
  const allowed = new Set([new URL(config.publicUrl).origin, ...config.cors.origins]);
  if (!allowed.has(origin)) throw new AppError('forbidden', { detail: `Origin ${origin} is not allowed` });
}
