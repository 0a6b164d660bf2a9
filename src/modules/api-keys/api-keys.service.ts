import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { newUuid } from '../../platform/ids.ts';
import { AppError } from '../../platform/problem.ts';
import { digestsEqual, randomToken, sha256 } from '../../platform/secrets.ts';
import type { AuditContext, AuditService } from '../audit/audit.service.ts';
import { type ApiKeyRow, apiKeys } from './api-keys.tables.ts';

// `sk_` + 12-character lookup prefix + 43-character secret (256 bits), all base64url.
const PREFIX_LENGTH = 12;
const KEY_PATTERN = /^sk_[A-Za-z0-9_-]{55}$/;
const LAST_USED_RESOLUTION_MS = 60_000;

const invalidKey = () =>
  new AppError('unauthenticated', {
    detail: 'The API key is invalid, expired or revoked',
    headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
  });

export function createApiKeysService(deps: { db: Db; audit: AuditService }) {
  const { db, audit } = deps;
  // Read on every API-key request: prepared once, so drizzle does not rebuild its SQL each time.
  const byPrefix = db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.prefix, sql.placeholder('prefix')))
    .limit(1)
    .prepare('api_keys_by_prefix');

  return {
    /** Returns the row and the only copy of the secret there will ever be. */
    async create(userId: string, input: { name: string; expiresAt?: Date }, context: AuditContext) {
      const prefix = randomToken(9);
      const key = `sk_${prefix}${randomToken(32)}`;
      return db.transaction(async (tx) => {
        const [row] = await tx
          .insert(apiKeys)
          .values({
            id: newUuid(),
            userId,
            name: input.name,
            prefix,
            keyHash: sha256(key),
            expiresAt: input.expiresAt ?? null,
          })
          .returning();
        await audit.record(tx, {
          ...context,
          type: 'api_key.created',
          target: { type: 'api_key', id: row!.id },
        });
        return { row: row!, key };
      });
    },

    list(userId: string): Promise<ApiKeyRow[]> {
      return db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
        .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
    },

    /** Effective at once everywhere: every request looks the key up, nothing is cached. */
    async revoke(userId: string, id: string, context: AuditContext): Promise<void> {
      await db.transaction(async (tx) => {
        const [row] = await tx
          .update(apiKeys)
          .set({ revokedAt: new Date() })
          .where(and(eq(apiKeys.id, id), eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
          .returning({ id: apiKeys.id });
        if (!row) throw new AppError('not_found');
        await audit.record(tx, { ...context, type: 'api_key.revoked', target: { type: 'api_key', id } });
      });
    },

    /** The key's owner, or 401. The prefix finds the row; the digest comparison is constant-time. */
    async authenticate(key: string): Promise<{ keyId: string; userId: string }> {
      if (!KEY_PATTERN.test(key)) throw invalidKey();
      const [row] = await byPrefix.execute({ prefix: key.slice(3, 3 + PREFIX_LENGTH) });
      if (!row || !digestsEqual(row.keyHash, sha256(key)) || row.revokedAt) throw invalidKey();
      if (row.expiresAt && row.expiresAt <= new Date()) throw invalidKey();
      // At most one write per key per minute, off the request's path.
      if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
        void db
          .update(apiKeys)
          .set({ lastUsedAt: new Date() })
          .where(eq(apiKeys.id, row.id))
          .catch(() => {});
      }
      return { keyId: row.id, userId: row.userId };
    },
  };
}

export type ApiKeysService = ReturnType<typeof createApiKeysService>;
