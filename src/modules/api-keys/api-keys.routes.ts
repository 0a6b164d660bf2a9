import { z } from '@hono/zod-openapi';
import { idempotencyKeyHeader, idempotent } from '../../platform/idempotency.ts';
import { publicIdSchema, toPublicId } from '../../platform/ids.ts';
import { defineRoute, jsonBody } from '../../platform/openapi.ts';
import { authenticated, SESSION_ONLY } from '../auth/authenticate.ts';
import type { ApiKeyRow } from './api-keys.tables.ts';

export const apiKeySchema = z
  .object({
    id: publicIdSchema('key'),
    name: z.string().meta({ example: 'CI uploader' }),
    prefix: z
      .string()
      .meta({ example: 'sk_Xq3f9LkP2aZ0', description: 'The first characters of the key, to recognise it' }),
    created_at: z.iso.datetime(),
    expires_at: z.iso.datetime().nullable(),
    last_used_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'ApiKey' });

export const toApiKey = (row: ApiKeyRow): z.infer<typeof apiKeySchema> => ({
  id: toPublicId('key', row.id),
  name: row.name,
  prefix: `sk_${row.prefix}`,
  created_at: row.createdAt.toISOString(),
  expires_at: row.expiresAt?.toISOString() ?? null,
  last_used_at: row.lastUsedAt?.toISOString() ?? null,
});

export const createApiKeyRoute = defineRoute({
  method: 'post',
  path: '/v1/api-keys',
  tags: ['Account'],
  operationId: 'createApiKey',
  summary: 'Create an API key (its secret is shown once)',
  description:
    'Returns the secret `key` (`sk_…`) once; only its hash is stored. Send it as `Authorization: Bearer sk_…`. ' +
    'An `Idempotency-Key` replay returns the same body without `key`.',
  security: SESSION_ONLY,
  // The secret is never stored: an idempotent replay answers the same body without `key` (API.md).
  middleware: [...authenticated({ sessionOnly: true }), idempotent({ neverStored: ['key'] })] as const,
  request: {
    headers: idempotencyKeyHeader,
    body: jsonBody(
      z.object({
        name: z.string().trim().min(1).max(100).meta({ example: 'CI uploader' }),
        expires_at: z.iso
          .datetime({ offset: true })
          .refine((value) => Date.parse(value) > Date.now(), 'must be in the future')
          .optional(),
      }),
    ),
  },
  responses: {
    201: {
      description:
        'Created. `key` is the secret: store it now, it is never shown again. An idempotent replay ' +
        '(`Idempotent-Replayed: true`) answers the same body without `key`: the secret is never stored.',
      headers: {
        'Idempotent-Replayed': {
          description: '`true` when this is a stored response replayed',
          schema: { type: 'string' },
        },
      },
      content: {
        'application/json': {
          schema: apiKeySchema.extend({
            key: z
              .string()
              .optional()
              .meta({ example: 'sk_Xq3f9LkP2aZ0…', description: 'Absent from an idempotent replay' }),
          }),
        },
      },
    },
  },
  extraProblems: ['idempotency_in_progress', 'idempotency_key_reused'],
});

export const listApiKeysRoute = defineRoute({
  method: 'get',
  path: '/v1/api-keys',
  tags: ['Account'],
  operationId: 'listApiKeys',
  summary: 'List the account’s active API keys (never their secrets)',
  description: 'Each key with its `prefix` (the first characters of the secret), so a key can be recognised.',
  security: SESSION_ONLY,
  middleware: [...authenticated({ sessionOnly: true })] as const,
  responses: {
    200: {
      description: 'Active keys, newest first',
      content: { 'application/json': { schema: z.object({ data: z.array(apiKeySchema) }) } },
    },
  },
});

export const revokeApiKeyRoute = defineRoute({
  method: 'delete',
  path: '/v1/api-keys/{id}',
  tags: ['Account'],
  operationId: 'revokeApiKey',
  summary: 'Revoke an API key; it stops working at once on every instance',
  description: 'Requests already authenticated with the key finish; the next one gets 401 `unauthenticated`.',
  security: SESSION_ONLY,
  middleware: [...authenticated({ sessionOnly: true })] as const,
  request: { params: z.object({ id: publicIdSchema('key') }) },
  responses: { 204: { description: 'Revoked' } },
});
