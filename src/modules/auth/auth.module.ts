import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../platform/app-env.ts';
import * as handlers from './auth.handlers.ts';
import * as routes from './auth.routes.ts';

export const authModule = () =>
  new OpenAPIHono<AppEnv>()
    .openapi(routes.registerRoute, handlers.register)
    .openapi(routes.loginRoute, handlers.login)
    .openapi(routes.refreshRoute, handlers.refresh)
    .openapi(routes.logoutRoute, handlers.logout)
    .openapi(routes.passwordResetRoute, handlers.requestPasswordReset)
    .openapi(routes.passwordResetConfirmRoute, handlers.confirmPasswordReset)
    .openapi(routes.jwksRoute, handlers.jwks);
