import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { and, asc, desc, eq, lt, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { preparedSql } from '../../db/prepared.ts';
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

/** The RFC 8785 canonical JSON a row's hash covers: its content and the previous hash. */
const canonicalOf = (row: Hashed): string =>
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
  }) ?? '';

/** SHA-256 over the row's canonical JSON: what `verifyChain` recomputes. */
const hashOf = (row: Hashed): string => createHash('sha256').update(canonicalOf(row)).digest('hex');

// The previous hash is known only inside the database (audit_append, migration 0007): the canonical JSON
// goes there in two pieces, cut where the hash belongs. Canonical keys are sorted, so the top-level
// `prevHash` comes after `data` (the only field that could hold a nested one): the last match is it.
const PREV_MARK = 'prev-hash-is-filled-in-by-audit-append';
const PREV_FIELD = `"prevHash":"${PREV_MARK}"`;

/** A new event's row (less its hashes) and its canonical JSON around the previous hash. */
function prepareEvent(event: AuditEvent) {
  const row: Omit<Hashed, 'prevHash'> = {
    id: newUuid(),
    type: event.type,
    actorId: event.actorId ?? null,
    targetType: event.target?.type ?? null,
    targetId: event.target?.id ?? null,
    clientIp: event.clientIp ?? null,
    requestId: event.requestId ?? null,
    data: event.data ?? {},
    createdAt: new Date(),
  };
  const canonical = canonicalOf({ ...row, prevHash: PREV_MARK });
  const at = canonical.lastIndexOf(PREV_FIELD) + PREV_FIELD.length - PREV_MARK.length - 1;
  return { row, head: canonical.slice(0, at), tail: canonical.slice(at + PREV_MARK.length) };
}

const P = (name: string) => sql.placeholder(`audit_${name}`);

/**
 * The call that appends an event to the chain, as an SQL expression over placeholders (its value: the
 * new row's `seq`) that `auditAppendValues` fills. Embedded in a caller's statement, the event commits
 * or rolls back with that statement's changes.
 */
export const AUDIT_APPEND = sql`audit_append(${P('id')}::uuid, ${P('type')}, ${P('actor_id')}::uuid, ${P('target_type')}, ${P('target_id')}, ${P('client_ip')}, ${P('request_id')}, ${P('data')}::jsonb, ${P('created_at')}::timestamptz, ${P('head')}, ${P('tail')})`;

export function auditAppendValues(event: AuditEvent): Record<string, unknown> {
  const { row, head, tail } = prepareEvent(event);
  return {
    audit_id: row.id,
    audit_type: row.type,
    audit_actor_id: row.actorId,
    audit_target_type: row.targetType,
    audit_target_id: row.targetId,
    audit_client_ip: row.clientIp,
    audit_request_id: row.requestId,
    audit_data: JSON.stringify(row.data),
    audit_created_at: row.createdAt.toISOString(),
    audit_head: head,
    audit_tail: tail,
  };
}

const appendAlone = preparedSql('audit_append', sql`select ${AUDIT_APPEND}`);

export function createAuditService(db: Db) {
  return {
    /**
     * Appends an event inside the caller's transaction, so the change and its record commit together.
     * One round trip: the chain lock is taken in the database and held only until that commit.
     */
    async record(tx: Tx, event: AuditEvent): Promise<void> {
      await appendAlone.execute(tx, auditAppendValues(event));
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
