import type { RouteHandler } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../platform/app-env.ts';
import { AppError } from '../../platform/problem.ts';
import { countAuth } from '../../telemetry/outcomes.ts';
import { auditContextOf } from '../audit/audit-context.ts';
import { toUser } from '../users/users.schemas.ts';
import type {
  jwksRoute,
  loginRoute,
  logoutRoute,
  passwordResetConfirmRoute,
  passwordResetRoute,
  refreshRoute,
  registerRoute,
} from './auth.routes.ts';
import {
  assertAllowedOrigin,
  clearRefreshCookie,
  readRefreshCookie,
  writeRefreshCookie,
} from './refresh-cookie.ts';
import type { Issued } from './sessions.service.ts';

const clientOf = (c: Context<AppEnv>) => ({ ...auditContextOf(c), userAgent: c.req.header('user-agent') });

/** Token responses are never cached by anything in between. */
function issuedResponse(c: Context<AppEnv>, issued: Issued) {
  writeRefreshCookie(c, issued.refreshToken);
  c.header('Cache-Control', 'no-store');
  return c.json(
    {
      access_token: issued.accessToken,
      token_type: 'Bearer' as const,
      expires_in: issued.expiresIn,
      user: toUser(issued.user),
    },
    200,
  );
}

export const register: RouteHandler<typeof registerRoute, AppEnv> = async (c) => {
  const body = c.req.valid('json');
  const user = await c.get('services').users.register(body, auditContextOf(c));
  return c.json({ user: toUser(user) }, 201);
};

export const login: RouteHandler<typeof loginRoute, AppEnv> = async (c) =>
  issuedResponse(
    c,
    await countAuth('password', c.get('services').sessions.login(c.req.valid('json'), clientOf(c))),
  );

export const refresh: RouteHandler<typeof refreshRoute, AppEnv> = async (c) => {
  assertAllowedOrigin(c);
  const token = readRefreshCookie(c);
  if (!token) throw new AppError('unauthenticated', { detail: 'No refresh cookie' });
  try {
    return issuedResponse(
      c,
      await countAuth('refresh', c.get('services').sessions.refresh(token, clientOf(c))),
    );
  } catch (error) {
    clearRefreshCookie(c);
    throw error;
  }
};

export const logout: RouteHandler<typeof logoutRoute, AppEnv> = async (c) => {
  assertAllowedOrigin(c);
  await c.get('services').sessions.logout(readRefreshCookie(c), clientOf(c));
  clearRefreshCookie(c);
  return c.body(null, 204);
};

export const requestPasswordReset: RouteHandler<typeof passwordResetRoute, AppEnv> = async (c) => {
  await c.get('services').passwords.request(c.req.valid('json').email, auditContextOf(c));
  return c.body(null, 202);
};

export const confirmPasswordReset: RouteHandler<typeof passwordResetConfirmRoute, AppEnv> = async (c) => {
  const { token, password } = c.req.valid('json');
  await c.get('services').passwords.confirm(token, password, auditContextOf(c));
  return c.body(null, 204);
};

export const jwks: RouteHandler<typeof jwksRoute, AppEnv> = (c) => {
  c.header('Cache-Control', 'public, max-age=300');
  return c.json(c.get('services').tokens.jwks, 200);
};
