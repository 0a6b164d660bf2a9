import type { Config } from './config.ts';
import type { Database } from './db/client.ts';
import { createJobSender } from './jobs/boss.ts';
import { createAdminService } from './modules/admin/admin.service.ts';
import { createApiKeysService } from './modules/api-keys/api-keys.service.ts';
import { createAuditService } from './modules/audit/audit.service.ts';
import { createMailer, createMailOutbox, type Mailer } from './modules/auth/mail.ts';
import { createPasswordsService } from './modules/auth/passwords.service.ts';
import { createSessionsService } from './modules/auth/sessions.service.ts';
import { createTokenService } from './modules/auth/tokens.ts';
import { createDocumentsService } from './modules/documents/documents.service.ts';
import { createExportsService } from './modules/exports/exports.service.ts';
import { createUsersService } from './modules/users/users.service.ts';
import { listenTo } from './platform/db-listener.ts';
import type { Logger } from './platform/logger.ts';
import { createRateLimits } from './platform/rate-limit/rate-limits.ts';
import { createUploadSlots } from './platform/rate-limit/upload-slots.ts';
import { createRuntimeModeStore } from './platform/runtime-mode.ts';
import type { Storage } from './storage/storage.ts';

/** Every service, wired once per process; handlers reach them as `c.get('services')`. */
export async function createServices(deps: {
  config: Config;
  database: Database;
  storage: Storage;
  logger: Logger;
  mailer?: Mailer;
}) {
  const { config, logger, storage } = deps;
  const db = deps.database.db;
  const audit = createAuditService(db);
  const users = createUsersService({ db, audit, quotas: config.quotas });
  const tokens = await createTokenService(config);
  const rateLimits = createRateLimits({ config, databaseUrl: deps.database.url, logger });
  const sessions = createSessionsService({
    db,
    users,
    audit,
    tokens,
    config,
    loginFailures: rateLimits.loginFailures,
  });
  // Evictions for the session cache, from the triggers of migration 0005; without a cache, no listener.
  const principalChanges =
    config.auth.sessionCacheTtlS > 0
      ? listenTo(
          deps.database.url,
          'principal_changes',
          {
            onNotify: (payload) => sessions.cache.applyChange(payload),
            onListening: () => sessions.cache.trust(),
            onLost: () => {
              sessions.cache.distrust();
              logger.warn(
                'principal_changes listener lost: session requests look up every time until it is back',
              );
            },
          },
          logger,
        )
      : undefined;
  const mailer = deps.mailer ?? createMailer(config, logger);
  // API processes only enqueue (inside the transaction of the change that causes the job).
  const jobs = createJobSender(deps.database.url, logger);
  const runtimeMode = createRuntimeModeStore({ db, pollMs: config.runtimeModePollMs, logger });
  return {
    config,
    db,
    audit,
    users,
    tokens,
    sessions,
    principalChanges,
    mailer,
    jobs,
    passwords: createPasswordsService({
      db,
      users,
      sessions,
      audit,
      outbox: createMailOutbox(jobs),
      config,
      logger,
      loginFailures: rateLimits.loginFailures,
    }),
    apiKeys: createApiKeysService({ db, audit }),
    runtimeMode,
    rateLimits,
    uploadSlots: createUploadSlots({
      db,
      limit: config.documents.uploadsInFlight,
      enabled: config.rateLimits.enabled,
      logger,
    }),
    documents: createDocumentsService({ db, storage, users, audit, config, logger }),
    exports: createExportsService({ db, storage, jobs, audit, logger }),
    admin: createAdminService({ db, users, sessions, audit, runtimeMode }),
  };
}

export type Services = Awaited<ReturnType<typeof createServices>>;
