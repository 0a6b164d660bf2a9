import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../platform/app-env.ts';
import { getProblem } from './problems.handlers.ts';
import { getProblemRoute } from './problems.routes.ts';

export const problemsModule = () => new OpenAPIHono<AppEnv>().openapi(getProblemRoute, getProblem);
