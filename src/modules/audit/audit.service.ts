import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { and, asc, desc, eq, lt, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { newUuid } from '../../platform/ids.ts';
import { type AuditEventRow, auditEvents } from './audit.tables.ts';

export const AUDIT_EVENT_TYPES = [
  'auth.login_succeeded',
  'auth.login_failed',
  'auth.logout',
  'auth.refresh_token_reused',
  'auth.password_changed',
  'auth.password_reset_requested',
  'auth.password_reset',
  'api_key.created',
  'api_key.revoked',
  'document.created',
  'document.deleted',
  'export.created',
  'export.canceled',
  'export.deleted',
  'export.downloaded',
  'admin.user_updated',
  'admin.runtime_mode_changed',
  'user.registered',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Who did it, from where: taken from the request by the handler. */
export type AuditContext = { actorId?: string; clientIp?: string; requestId?: string };

export type AuditEvent = AuditContext & {
  type: AuditEventType;
  target?: { type: string; id: string };
  data?: Record<string, unknown>;
};

const GENESIS = '0'.repeat(64);
// One writer at a time extends the chain; the lock is released when the caller's transaction ends.
const CHAIN_LOCK = 0x5709_a0d1;

type Hashed = Pick<
  AuditEventRow,
  | 'id'
  | 'type'
  | 'actorId'
  | 'targetType'
  | 'targetId'
  | 'clientIp'
  | 'requestId'
  | 'data'
  | 'createdAt'
  | 'prevHash'
>;

/** SHA-256 over the RFC 8785 canonical JSON of the row's content and the previous hash. */
const hashOf = (row: Hashed): string =>
  createHash('sha256')
    .update(
      canonicalize({
        id: row.id,
        type: row.type,
        actorId: row.actorId,
        targetType: row.targetType,
        targetId: row.targetId,
        clientIp: row.clientIp,
        requestId: row.requestId,
        data: row.data,
        createdAt: row.createdAt.toISOString(),
        prevHash: row.prevHash,
      }) ?? '',
    )
    .digest('hex');

export function createAuditService(db: Db) {
  return {
    /** Appends an event inside the caller's transaction, so the change and its record commit together. */
    async record(tx: Tx, event: AuditEvent): Promise<void> {
      await tx.execute(sql`select pg_advisory_xact_lock(${CHAIN_LOCK})`);
      const [last] = await tx
        .select({ hash: auditEvents.hash })
        .from(auditEvents)
        .orderBy(desc(auditEvents.seq))
        .limit(1);
      const row: Hashed = {
        id: newUuid(),
        type: event.type,
        actorId: event.actorId ?? null,
        targetType: event.target?.type ?? null,
        targetId: event.target?.id ?? null,
        clientIp: event.clientIp ?? null,
        requestId: event.requestId ?? null,
        data: event.data ?? {},
        createdAt: new Date(),
        prevHash: last?.hash ?? GENESIS,
      };
      await tx.insert(auditEvents).values({ ...row, hash: hashOf(row) });
    },

    /** An event that records no other change (a failed login) gets a transaction of its own. */
    recordAlone(event: AuditEvent): Promise<void> {
      return db.transaction((tx) => this.record(tx, event));
    },

    async list(filter: { limit: number; beforeSeq?: number; actorId?: string; type?: string }) {
      return db
        .select()
        .from(auditEvents)
        .where(
          and(
            filter.beforeSeq === undefined ? undefined : lt(auditEvents.seq, filter.beforeSeq),
            filter.actorId ? eq(auditEvents.actorId, filter.actorId) : undefined,
            filter.type ? eq(auditEvents.type, filter.type) : undefined,
          ),
        )
        .orderBy(desc(auditEvents.seq))
        .limit(filter.limit);
    },

    /**
     * Walks the chain in order and recomputes every hash. Returns the first row whose content or link
     * does not match; a deleted row shows as a broken link at the row after it.
     */
    async verifyChain(
      batch = 1000,
    ): Promise<{ ok: true; checked: number } | { ok: false; seq: number; reason: string }> {
      let prevHash = GENESIS;
      let afterSeq = 0;
      let checked = 0;
      for (;;) {
        const rows = await db
          .select()
          .from(auditEvents)
          .where(sql`${auditEvents.seq} > ${afterSeq}`)
          .orderBy(asc(auditEvents.seq))
          .limit(batch);
        for (const row of rows) {
          if (row.prevHash !== prevHash) return { ok: false, seq: row.seq, reason: 'broken link' };
          if (hashOf(row) !== row.hash) return { ok: false, seq: row.seq, reason: 'content changed' };
          prevHash = row.hash;
          afterSeq = row.seq;
          checked++;
        }
        if (rows.length < batch) return { ok: true, checked };
      }
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
