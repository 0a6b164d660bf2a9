import type { Db } from '../../db/client.ts';
import type { RuntimeMode, RuntimeModeStore } from '../../platform/runtime-mode.ts';
import type { AuditContext, AuditService } from '../audit/audit.service.ts';
import type { SessionsService } from '../auth/sessions.service.ts';
import type { AdminUserPatch, UsersService } from '../users/users.service.ts';

/** Admin actions that span modules; each is audited in the transaction that makes the change. */
export function createAdminService(deps: {
  db: Db;
  users: UsersService;
  sessions: SessionsService;
  audit: AuditService;
  runtimeMode: RuntimeModeStore;
}) {
  const { db, users, sessions, audit, runtimeMode } = deps;
  return {
    /**
     * Disabling also ends every session; API keys stop at once because each request re-checks the account.
     * A new role or tier reaches other instances' session caches through the users trigger; this one
     * forgets at once, so the admin's next request already sees it.
     */
    async updateUser(id: string, patch: AdminUserPatch, context: AuditContext & { actorId: string }) {
      const row = await users.adminUpdate(id, patch, context, (tx, userId) =>
        sessions.revokeAll(tx, userId, 'disabled'),
      );
      // Committed: this instance applies it now, the users trigger's notification tells the others.
      sessions.cache.applyChange(`user:${id}`);
      return row;
    },

    async setRuntimeMode(mode: RuntimeMode, context: AuditContext & { actorId: string }): Promise<void> {
      const from = runtimeMode.mode;
      await db.transaction(async (tx) => {
        await runtimeMode.write(tx, mode, context.actorId);
        await audit.record(tx, { ...context, type: 'admin.runtime_mode_changed', data: { from, to: mode } });
      });
      runtimeMode.apply(mode);
    },
  };
}
