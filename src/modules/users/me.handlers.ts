import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../platform/app-env.ts';
import { auditContextOf } from '../audit/audit-context.ts';
import { principalOf } from '../auth/authenticate.ts';
import type { changePasswordRoute, getMeRoute, updateMeRoute } from './me.routes.ts';
import { toUser } from './users.schemas.ts';

export const getMe: RouteHandler<typeof getMeRoute, AppEnv> = async (c) =>
  c.json(toUser(await c.get('services').users.get(principalOf(c).userId)), 200);

export const updateMe: RouteHandler<typeof updateMeRoute, AppEnv> = async (c) => {
  const { name } = c.req.valid('json');
  return c.json(toUser(await c.get('services').users.rename(principalOf(c).userId, name)), 200);
};

export const changePassword: RouteHandler<typeof changePasswordRoute, AppEnv> = async (c) => {
  const { current_password, password } = c.req.valid('json');
  const principal = principalOf(c);
  const { passwords } = c.get('services');
  await passwords.change(
    principal.userId,
    { current: current_password, next: password, keepSessionId: principal.sessionId },
    auditContextOf(c),
  );
  return c.body(null, 204);
};
