import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../platform/app-env.ts';
import { getProblem, listProblems } from './problems.handlers.ts';
import { getProblemRoute, listProblemsRoute } from './problems.routes.ts';

export const problemsModule = () =>
  new OpenAPIHono<AppEnv>().openapi(listProblemsRoute, listProblems).openapi(getProblemRoute, getProblem);
