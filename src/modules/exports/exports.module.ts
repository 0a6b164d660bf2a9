import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../platform/app-env.ts';
import * as handlers from './exports.handlers.ts';
import * as routes from './exports.routes.ts';

export const exportsModule = () =>
  new OpenAPIHono<AppEnv>()
    .openapi(routes.createExportRoute, handlers.createExport)
    .openapi(routes.listExportsRoute, handlers.listExports)
    .openapi(routes.getExportRoute, handlers.getExport)
    .openapi(routes.getExportContentRoute, handlers.getExportContent)
    .openapi(routes.deleteExportRoute, handlers.deleteExport);
