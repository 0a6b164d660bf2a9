import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../platform/app-env.ts';
import * as handlers from './me.handlers.ts';
import * as routes from './me.routes.ts';

export const meModule = () =>
  new OpenAPIHono<AppEnv>()
    .openapi(routes.getMeRoute, handlers.getMe)
    .openapi(routes.updateMeRoute, handlers.updateMe)
    .openapi(routes.changePasswordRoute, handlers.changePassword);
