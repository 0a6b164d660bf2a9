import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../platform/app-env.ts';
import * as handlers from './admin.handlers.ts';
import * as routes from './admin.routes.ts';

export const adminModule = () =>
  new OpenAPIHono<AppEnv>()
    .openapi(routes.listUsersRoute, handlers.listUsers)
    .openapi(routes.updateUserRoute, handlers.updateUser)
    .openapi(routes.listAuditEventsRoute, handlers.listAuditEvents)
    .openapi(routes.getRuntimeModeRoute, handlers.getRuntimeMode)
    .openapi(routes.setRuntimeModeRoute, handlers.setRuntimeMode);
