import { readFileSync } from 'node:fs';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Config } from './config.ts';
import { adminModule } from './modules/admin/admin.module.ts';
import { apiKeysModule } from './modules/api-keys/api-keys.module.ts';
import { authModule } from './modules/auth/auth.module.ts';
import { documentsModule } from './modules/documents/documents.module.ts';
import { exportsModule } from './modules/exports/exports.module.ts';
import { problemsModule } from './modules/problems/problems.module.ts';
import { meModule } from './modules/users/me.module.ts';
import { accessLog } from './platform/access-log.ts';
import type { AppEnv } from './platform/app-env.ts';
import { clientIp, trustedProxies } from './platform/client-ip.ts';
import { docsRoutes } from './platform/docs.ts';
import { errorHandler, notFoundHandler, validationHook } from './platform/error-handlers.ts';
import { handlerTimeout } from './platform/handler-timeout.ts';
import { healthRoutes, type ReadinessCheck } from './platform/health.ts';
import { closeConnectionsWhenStopping, type Lifecycle } from './platform/lifecycle.ts';
import { loadShedding } from './platform/load-shedding.ts';
import type { Logger } from './platform/logger.ts';
import { buildOpenApiDocument } from './platform/openapi.ts';
import { closeWhenBodyUnread, requireIdentityEncoding } from './platform/request-body.ts';
import { requestContext } from './platform/request-context.ts';
import { runtimeModeGate } from './platform/runtime-mode.ts';
import { corsPolicy, jsonBodyLimit, securityHeaders } from './platform/security.ts';
import type { Services } from './services.ts';
import { requestTelemetry } from './telemetry/http.ts';

/** A resource's routes, mounted at `path`. */
export type ApiModule = { path: string; app: OpenAPIHono<AppEnv> };

export type AppDeps = {
  config: Config;
  services: Services;
  logger: Logger;
  lifecycle: Lifecycle;
  readiness: Record<string, ReadinessCheck>;
  /** Extra modules after the built-in ones (tests mount probes this way). */
  modules?: ApiModule[];
};

const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const builtInModules = (): ApiModule[] =>
  [problemsModule(), authModule(), meModule(), apiKeysModule(), documentsModule(), adminModule()].map(
    (app) => ({
      path: '/',
      app,
    }),
  );

/** Middleware order is DESIGN.md's request lifecycle; later issues slot into the marked places. */
export function createApp(deps: AppDeps) {
  const { config, logger, lifecycle, services } = deps;
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const proxies = trustedProxies(config.proxies.trusted, config.proxies.header);

  app.use('*', requestContext());
  app.use('*', requestTelemetry(proxies)); // metrics; the request's span, when tracing runs
  app.use('*', async (c, next) => {
    c.set('services', services);
    await next();
  });
  app.use('*', accessLog(logger, config.observability));
  app.use('*', securityHeaders({ hstsMaxAgeS: config.hstsMaxAgeS }));
  app.use('*', corsPolicy(config.cors));
  app.use('*', closeWhenBodyUnread());
  app.use('*', loadShedding(config.http.maxInFlight));
  app.use('*', closeConnectionsWhenStopping(lifecycle));
  app.use('*', clientIp(proxies));
  app.use('*', handlerTimeout(config.http.handlerTimeoutMs));
  app.use('/v1/*', runtimeModeGate(services.runtimeMode));
  // Authentication, rate limits and idempotency are route middleware, in that order (`authenticated()`).
  app.use('*', requireIdentityEncoding());
  app.use('*', jsonBodyLimit(config.http.maxJsonBodyBytes));

  app.route('/', healthRoutes({ lifecycle, checks: deps.readiness, logger }));
  app.route('/', docsRoutes());
  app.route('/', exportsModule());
  for (const module of [...builtInModules(), ...(deps.modules ?? [])]) app.route(module.path, module.app);

  // Built on first use, not at start-up: it is about a tenth of the time from exec to ready (issue 18).
  let openApiJson: string | undefined;
  app.get('/openapi.json', (c) => {
    openApiJson ??= JSON.stringify(
      buildOpenApiDocument(app, { publicUrl: config.publicUrl, version: VERSION }),
    );
    c.header('Cache-Control', 'no-cache');
    return c.body(openApiJson, 200, { 'Content-Type': 'application/json' });
  });

  app.notFound(notFoundHandler(app, config.publicUrl));
  app.onError(errorHandler(config.publicUrl, logger));
  return app;
}

export type App = ReturnType<typeof createApp>;
