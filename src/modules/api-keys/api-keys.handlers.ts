import type { RouteHandler } from '@hono/zod-openapi';
import type { AppEnv } from '../../platform/app-env.ts';
import { fromPublicId } from '../../platform/ids.ts';
import { AppError } from '../../platform/problem.ts';
import { auditContextOf } from '../audit/audit-context.ts';
import { principalOf } from '../auth/authenticate.ts';
import {
  type createApiKeyRoute,
  type listApiKeysRoute,
  type revokeApiKeyRoute,
  toApiKey,
} from './api-keys.routes.ts';

export const createApiKey: RouteHandler<typeof createApiKeyRoute, AppEnv> = async (c) => {
  const { name, expires_at } = c.req.valid('json');
  const { apiKeys } = c.get('services');
  const { row, key } = await apiKeys.create(
    principalOf(c).userId,
    { name, expiresAt: expires_at ? new Date(expires_at) : undefined },
    auditContextOf(c),
  );
  c.header('Cache-Control', 'no-store');
  return c.json({ ...toApiKey(row), key }, 201);
};

export const listApiKeys: RouteHandler<typeof listApiKeysRoute, AppEnv> = async (c) =>
  c.json({ data: (await c.get('services').apiKeys.list(principalOf(c).userId)).map(toApiKey) }, 200);

export const revokeApiKey: RouteHandler<typeof revokeApiKeyRoute, AppEnv> = async (c) => {
  const id = fromPublicId('key', c.req.valid('param').id);
  if (!id) throw new AppError('not_found');
  await c.get('services').apiKeys.revoke(principalOf(c).userId, id, auditContextOf(c));
  return c.body(null, 204);
};
