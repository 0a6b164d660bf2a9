import type { RouteHandler } from '@hono/zod-openapi';
import { z } from 'zod';
import type { AppEnv } from '../../platform/app-env.ts';
import { decodeCursor, encodeCursor } from '../../platform/cursor.ts';
import { fromPublicId, publicIdOf, toPublicId } from '../../platform/ids.ts';
import { AppError } from '../../platform/problem.ts';
import type { AuditEventRow } from '../audit/audit.tables.ts';
import { auditContextOf } from '../audit/audit-context.ts';
import { principalOf } from '../auth/authenticate.ts';
import { toUser } from '../users/users.schemas.ts';
import type {
  auditEventSchema,
  getRuntimeModeRoute,
  listAuditEventsRoute,
  listUsersRoute,
  setRuntimeModeRoute,
  updateUserRoute,
} from './admin.routes.ts';

const userCursor = z.strictObject({ c: z.iso.datetime(), i: z.uuid() });
const auditCursor = z.strictObject({ s: z.number().int().positive() });

const adminContext = (c: Parameters<typeof auditContextOf>[0]) => ({
  ...auditContextOf(c),
  actorId: principalOf(c).userId,
});

export const listUsers: RouteHandler<typeof listUsersRoute, AppEnv> = async (c) => {
  const { limit, cursor, q } = c.req.valid('query');
  const after = decodeCursor(cursor, userCursor);
  const rows = await c.get('services').users.list({
    limit: limit + 1,
    q,
    after: after && { createdAt: new Date(after.c), id: after.i },
  });
  const pageRows = rows.slice(0, limit);
  const last = pageRows.at(-1);
  const next =
    rows.length > limit && last ? encodeCursor({ c: last.createdAt.toISOString(), i: last.id }) : null;
  return c.json({ data: pageRows.map(toUser), next_cursor: next }, 200);
};

export const updateUser: RouteHandler<typeof updateUserRoute, AppEnv> = async (c) => {
  const id = fromPublicId('usr', c.req.valid('param').id);
  if (!id) throw new AppError('not_found');
  const row = await c.get('services').admin.updateUser(id, c.req.valid('json'), adminContext(c));
  return c.json(toUser(row), 200);
};

const toAuditEvent = (row: AuditEventRow) => ({
  id: toPublicId('evt', row.id),
  type: row.type as z.infer<typeof auditEventSchema>['type'],
  actor_id: row.actorId ? toPublicId('usr', row.actorId) : null,
  target:
    row.targetType && row.targetId
      ? { type: row.targetType, id: publicIdOf(row.targetType, row.targetId) }
      : null,
  client_ip: row.clientIp,
  request_id: row.requestId,
  data: row.data,
  created_at: row.createdAt.toISOString(),
});

export const listAuditEvents: RouteHandler<typeof listAuditEventsRoute, AppEnv> = async (c) => {
  const { limit, cursor, actor_id, type } = c.req.valid('query');
  const after = decodeCursor(cursor, auditCursor);
  const actorId = actor_id ? fromPublicId('usr', actor_id) : undefined;
  const rows = await c.get('services').audit.list({ limit: limit + 1, beforeSeq: after?.s, actorId, type });
  const pageRows = rows.slice(0, limit);
  const last = pageRows.at(-1);
  return c.json(
    {
      data: pageRows.map(toAuditEvent),
      next_cursor: rows.length > limit && last ? encodeCursor({ s: last.seq }) : null,
    },
    200,
  );
};

export const getRuntimeMode: RouteHandler<typeof getRuntimeModeRoute, AppEnv> = (c) =>
  c.json({ mode: c.get('services').runtimeMode.mode }, 200);

export const setRuntimeMode: RouteHandler<typeof setRuntimeModeRoute, AppEnv> = async (c) => {
  const { mode } = c.req.valid('json');
  await c.get('services').admin.setRuntimeMode(mode, adminContext(c));
  return c.json({ mode }, 200);
};
