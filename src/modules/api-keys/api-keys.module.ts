import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../platform/app-env.ts';
import * as handlers from './api-keys.handlers.ts';
import * as routes from './api-keys.routes.ts';

export const apiKeysModule = () =>
  new OpenAPIHono<AppEnv>()
    .openapi(routes.createApiKeyRoute, handlers.createApiKey)
    .openapi(routes.listApiKeysRoute, handlers.listApiKeys)
    .openapi(routes.revokeApiKeyRoute, handlers.revokeApiKey);
