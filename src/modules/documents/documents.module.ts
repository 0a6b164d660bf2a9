import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../platform/app-env.ts';
import * as handlers from './documents.handlers.ts';
import * as routes from './documents.routes.ts';

export const documentsModule = () =>
  new OpenAPIHono<AppEnv>()
    .openapi(routes.uploadDocumentRoute, handlers.uploadDocument)
    .openapi(routes.listDocumentsRoute, handlers.listDocuments)
    .openapi(routes.getDocumentRoute, handlers.getDocument)
    .openapi(routes.getContentRoute, handlers.getContent)
    .openapi(routes.updateDocumentRoute, handlers.updateDocument)
    .openapi(routes.deleteDocumentRoute, handlers.deleteDocument);
