// The documents module's SQL: statements prepared once (drizzle builds no query per request), the
// list's page shapes, and the upload's two statements. Only this module touches the documents table;
// the quota charge and the audit append are SQL pieces their own modules hand over.
import { and, asc, desc, eq, gt, ilike, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { preparedSql } from '../../db/prepared.ts';
import { rowOf } from '../../db/rows.ts';
import { AUDIT_APPEND, type AuditEvent, auditAppendValues } from '../audit/audit.service.ts';
import type { UsersService } from '../users/users.service.ts';
import { type DocumentRow, documents } from './documents.tables.ts';

export type DocumentOrder = 'created_at.desc' | 'created_at.asc' | 'name.asc';
export type ListPosition = { order: DocumentOrder; createdAt?: Date; name?: string; id: string };

export function createDocumentStatements(db: Db, users: UsersService) {
  const P = sql.placeholder;

  /**
   * Makes a pending upload `ready`, charges its quota and records its audit event in ONE statement (one
   * round trip, atomic as a transaction): the pending row is locked first, the quota is charged only if
   * it is there, the row is marked only if the charge went through, and the event is appended only for a
   * row marked ready. The audit chain's lock is taken inside that statement and released by its commit.
   */
  const markReadyStatement = preparedSql(
    'documents_mark_ready',
    sql`
      with pending as (${db
        .select({ id: documents.id })
        .from(documents)
        .where(and(eq(documents.id, P('id')), eq(documents.status, 'pending')))
        .for('update')
        .getSQL()}),
      charged as (${users.quotaCharge(P('user_id'), P('size'), sql`exists (select 1 from pending)`).getSQL()}),
      ready as (${db
        .update(documents)
        .set({
          status: 'ready',
          sizeBytes: sql`${P('size')}`,
          sha256: sql`${P('sha256')}`,
          metadata: sql`${P('metadata')}::jsonb`,
          name: sql`coalesce(${P('name')}, ${documents.name})`,
          updatedAt: sql`${P('updated_at')}::timestamptz`,
        })
        .where(and(sql`${documents.id} in (select id from pending)`, sql`exists (select 1 from charged)`))
        .returning()
        .getSQL()}),
      audit as (select ${AUDIT_APPEND} as audit_seq from ready)
      select ready.*, audit.audit_seq, (select count(*) from pending)::int as pending_found
      from (select 1) as one left join ready on true left join audit on true`,
  );

  /** The row made ready; or undefined, and whether the pending row was there (the quota refused it). */
  async function markReady(
    userId: string,
    id: string,
    changes: Pick<DocumentRow, 'sizeBytes' | 'sha256' | 'metadata'> & { name?: string },
    event: AuditEvent,
  ): Promise<{ ready?: DocumentRow; pendingFound: boolean }> {
    const [result] = await markReadyStatement.execute(db, {
      id,
      user_id: userId,
      size: changes.sizeBytes,
      sha256: changes.sha256,
      metadata: JSON.stringify(changes.metadata),
      name: changes.name ?? null,
      updated_at: new Date().toISOString(),
      ...auditAppendValues(event),
    });
    return {
      ready: result?.audit_seq != null ? rowOf(documents, result) : undefined,
      pendingFound: Boolean(result?.pending_found),
    };
  }

  // The pending row that holds the key while bytes flow, and the quota left, in one round trip.
  const insertPending = db
    .insert(documents)
    .values({
      id: P('id'),
      userId: P('user_id'),
      storageKey: P('storage_key'),
      name: P('name'),
      contentType: P('content_type'),
    })
    .returning({ remaining: users.remainingQuota(P('user_id')) })
    .prepare('documents_insert_pending');

  // The hottest read of the API: prepared once, so drizzle does not rebuild its SQL each time.
  const readyById = db
    .select()
    .from(documents)
    .where(
      and(
        eq(documents.id, sql.placeholder('id')),
        eq(documents.userId, sql.placeholder('userId')),
        eq(documents.status, 'ready'),
      ),
    )
    .prepare('documents_ready_by_id');

  // A page of the list is the second-hottest read: one prepared statement per shape of the query (order ×
  // cursor × filters, 24 at most), built on first use, so drizzle does not rebuild the SQL each time.
  const pages = new Map<string, ReturnType<typeof preparePage>>();
  type PageShape = { order: DocumentOrder; after: boolean; q: boolean; contentType: boolean };
  const pageQuery = (shape: PageShape) => {
    const key = `${shape.order}:${+shape.after}${+shape.q}${+shape.contentType}`;
    const known = pages.get(key);
    if (known) return known;
    const query = preparePage(shape, `documents_page_${key.replace(/\W/g, '_')}`);
    pages.set(key, query);
    return query;
  };
  function preparePage({ order, after, q, contentType }: PageShape, name: string) {
    const [id, createdAt, docName] = ['afterId', 'afterCreatedAt', 'afterName'].map((p) =>
      sql.placeholder(p),
    );
    const keyset = !after
      ? undefined
      : order === 'name.asc'
        ? or(gt(documents.name, docName!), and(eq(documents.name, docName!), gt(documents.id, id!)))
        : order === 'created_at.asc'
          ? or(
              gt(documents.createdAt, createdAt!),
              and(eq(documents.createdAt, createdAt!), gt(documents.id, id!)),
            )
          : or(
              lt(documents.createdAt, createdAt!),
              and(eq(documents.createdAt, createdAt!), lt(documents.id, id!)),
            );
    const sort =
      order === 'name.asc'
        ? [asc(documents.name), asc(documents.id)]
        : order === 'created_at.asc'
          ? [asc(documents.createdAt), asc(documents.id)]
          : [desc(documents.createdAt), desc(documents.id)];
    return db
      .select()
      .from(documents)
      .where(
        and(
          eq(documents.userId, sql.placeholder('userId')),
          eq(documents.status, 'ready'),
          q ? ilike(documents.name, sql.placeholder('q')) : undefined,
          contentType ? eq(documents.contentType, sql.placeholder('contentType')) : undefined,
          keyset,
        ),
      )
      .orderBy(...sort)
      .limit(sql.placeholder('limit'))
      .prepare(name);
  }

  return { markReady, insertPending, readyById, pageQuery };
}

export type DocumentStatements = ReturnType<typeof createDocumentStatements>;
