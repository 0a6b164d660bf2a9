import { z } from '@hono/zod-openapi';
import { pageQuery } from '../../platform/cursor.ts';
import { publicIdSchema } from '../../platform/ids.ts';
import { defineRoute, jsonBody, jsonContent } from '../../platform/openapi.ts';
import { RUNTIME_MODES } from '../../platform/runtime-mode.ts';
import { AUDIT_EVENT_TYPES } from '../audit/audit.service.ts';
import { authenticated, SESSION_OR_KEY } from '../auth/authenticate.ts';
import { roleSchema, tierSchema, userSchema } from '../users/users.schemas.ts';

const admin = { tags: ['Admin'], security: SESSION_OR_KEY, middleware: [...authenticated({ admin: true })] };
const page = <T extends z.ZodType>(item: T) =>
  z.object({
    data: z.array(item),
    next_cursor: z.string().nullable().meta({ description: 'null on the last page' }),
  });

export const auditEventSchema = z
  .object({
    id: publicIdSchema('evt'),
    type: z.enum(AUDIT_EVENT_TYPES),
    actor_id: publicIdSchema('usr').nullable(),
    target: z.object({ type: z.string(), id: z.string() }).nullable(),
    client_ip: z.string().nullable(),
    request_id: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'AuditEvent' });

const runtimeModeSchema = z.object({ mode: z.enum(RUNTIME_MODES) }).meta({ id: 'RuntimeMode' });

export const listUsersRoute = defineRoute({
  ...admin,
  method: 'get',
  path: '/v1/admin/users',
  operationId: 'adminListUsers',
  summary: 'List accounts, newest first',
  description: '`q` matches email or name; page with `next_cursor` as for documents.',
  request: {
    query: z.object({
      ...pageQuery,
      q: z.string().trim().min(1).max(100).optional().meta({ description: 'Email or name contains' }),
    }),
  },
  responses: { 200: { description: 'A page of accounts', content: jsonContent(page(userSchema)) } },
});

export const updateUserRoute = defineRoute({
  ...admin,
  method: 'patch',
  path: '/v1/admin/users/{id}',
  operationId: 'adminUpdateUser',
  summary: 'Change an account’s tier, quota, role or status',
  description:
    'A tier change moves the quota to the tier’s unless `quota_bytes` was ever set explicitly. Disabling ends every ' +
    'session and stops the account’s API keys at once. Admins cannot disable or demote themselves.',
  request: {
    params: z.object({ id: publicIdSchema('usr') }),
    body: jsonBody(
      z
        .object({
          tier: tierSchema.optional(),
          quota_bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
          disabled: z.boolean().optional(),
          role: roleSchema.optional(),
        })
        .refine((patch) => Object.keys(patch).length > 0, 'at least one field is required'),
    ),
  },
  responses: { 200: { description: 'The updated account', content: jsonContent(userSchema) } },
});

export const listAuditEventsRoute = defineRoute({
  ...admin,
  method: 'get',
  path: '/v1/admin/audit-events',
  operationId: 'adminListAuditEvents',
  summary: 'The audit log, newest first',
  description:
    'Append-only, hash-chained events with actor, target, client IP and request id; filter by `actor_id` (`usr_…`) or `type`.',
  request: {
    query: z.object({
      ...pageQuery,
      actor_id: publicIdSchema('usr').optional(),
      type: z.enum(AUDIT_EVENT_TYPES).optional(),
    }),
  },
  responses: { 200: { description: 'A page of events', content: jsonContent(page(auditEventSchema)) } },
});

export const getRuntimeModeRoute = defineRoute({
  ...admin,
  method: 'get',
  path: '/v1/admin/runtime-mode',
  operationId: 'adminGetRuntimeMode',
  summary: 'The runtime mode in force',
  description: '`normal`, `degraded` (heavy work refused) or `read_only` (every write refused).',
  responses: { 200: { description: 'The mode', content: jsonContent(runtimeModeSchema) } },
});

export const setRuntimeModeRoute = defineRoute({
  ...admin,
  method: 'put',
  path: '/v1/admin/runtime-mode',
  operationId: 'adminSetRuntimeMode',
  summary: 'Switch every instance to a runtime mode (within 5 s)',
  description:
    '`degraded` refuses heavy work (503 `degraded_mode`); `read_only` refuses every write (503 `read_only_mode`) ' +
    'except signing in and this endpoint. Reads keep working in both.',
  request: { body: jsonBody(runtimeModeSchema) },
  responses: { 200: { description: 'The mode now in force', content: jsonContent(runtimeModeSchema) } },
});
