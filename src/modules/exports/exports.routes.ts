import { z } from '@hono/zod-openapi';
import { pageQuery } from '../../platform/cursor.ts';
import { idempotencyKeyHeader, idempotent } from '../../platform/idempotency.ts';
import { publicIdSchema, toPublicId } from '../../platform/ids.ts';
import { defineRoute, jsonBody, jsonContent } from '../../platform/openapi.ts';
import { heavyWork } from '../../platform/runtime-mode.ts';
import { authenticated, SESSION_OR_KEY } from '../auth/authenticate.ts';
import type { ExportRow } from './exports.tables.ts';

export const exportSchema = z
  .object({
    id: publicIdSchema('exp'),
    status: z.enum(['queued', 'running', 'succeeded', 'failed', 'canceled', 'expired']),
    documents_total: z.number().int(),
    documents_done: z.number().int(),
    bytes_total: z.number().int(),
    bytes_done: z.number().int(),
    size_bytes: z.number().int().nullable().meta({ description: 'Size of the ZIP once it succeeded' }),
    sha256: z.string().nullable().meta({ description: 'SHA-256 of the ZIP once it succeeded' }),
    error: z.object({ code: z.string(), detail: z.string() }).nullable(),
    created_at: z.iso.datetime(),
    started_at: z.iso.datetime().nullable(),
    finished_at: z.iso.datetime().nullable(),
    expires_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'Export' });

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export const toExport = (row: ExportRow): z.infer<typeof exportSchema> => ({
  id: toPublicId('exp', row.id),
  status: row.status,
  documents_total: row.documentsTotal,
  documents_done: row.documentsDone,
  bytes_total: row.bytesTotal,
  bytes_done: row.bytesDone,
  size_bytes: row.status === 'succeeded' ? row.sizeBytes : null,
  sha256: row.status === 'succeeded' ? row.sha256 : null,
  error: row.error ?? null,
  created_at: row.createdAt.toISOString(),
  started_at: iso(row.startedAt),
  finished_at: iso(row.finishedAt),
  expires_at: iso(row.expiresAt),
});

const owner = { tags: ['Exports'], security: SESSION_OR_KEY };
const params = z.object({ id: publicIdSchema('exp') });

export const createExportRoute = defineRoute({
  ...owner,
  method: 'post',
  path: '/v1/exports',
  operationId: 'createExport',
  summary: 'Export documents as one ZIP (runs in the background)',
  description:
    'Neither `document_ids` nor `q`: every ready document. The ZIP holds each document under a safe, unique ' +
    'path plus `manifest.json`. One queued-or-running export per account (409 `export_in_progress`); refused ' +
    'in degraded mode (503 `degraded_mode`). `Idempotency-Key` makes retries safe.',
  middleware: [...authenticated(), heavyWork(), idempotent()],
  maxBodyBytes: 64 * 1024,
  request: {
    headers: idempotencyKeyHeader,
    body: jsonBody(
      z.object({
        document_ids: z.array(publicIdSchema('doc')).min(1).max(1000).optional(),
        q: z
          .string()
          .trim()
          .min(1)
          .max(255)
          .optional()
          .meta({ description: 'Name contains (case-insensitive)' }),
      }),
    ),
  },
  responses: {
    202: {
      description: 'Queued',
      headers: {
        Location: { description: 'URL of the export', schema: { type: 'string' } },
        'Idempotent-Replayed': { description: '`true` when replayed', schema: { type: 'string' } },
      },
      content: jsonContent(z.object({ export: exportSchema })),
    },
  },
  extraProblems: ['export_in_progress', 'degraded_mode', 'idempotency_in_progress', 'idempotency_key_reused'],
});

export const listExportsRoute = defineRoute({
  ...owner,
  method: 'get',
  path: '/v1/exports',
  operationId: 'listExports',
  summary: 'List exports, newest first',
  description:
    'The account’s exports, newest first, with keyset pagination (`next_cursor`); finished ones stay listed until they expire.',
  middleware: [...authenticated()],
  request: { query: z.object(pageQuery) },
  responses: {
    200: {
      description: 'A page of exports',
      content: jsonContent(z.object({ data: z.array(exportSchema), next_cursor: z.string().nullable() })),
    },
  },
});

export const getExportRoute = defineRoute({
  ...owner,
  method: 'get',
  path: '/v1/exports/{id}',
  operationId: 'getExport',
  summary: 'An export’s status and progress',
  description:
    'Status (`queued`, `running`, `succeeded`, `failed`, `canceled`, `expired`), progress in documents and bytes, and once it succeeded the ZIP’s size and SHA-256. Poll it, or follow `Location` from the create answer.',
  middleware: [...authenticated()],
  request: { params },
  responses: { 200: { description: 'The export', content: jsonContent(exportSchema) } },
});

export const getExportContentRoute = defineRoute({
  ...owner,
  method: 'get',
  path: '/v1/exports/{id}/content',
  operationId: 'getExportContent',
  summary: 'Download the ZIP (ranges supported)',
  description:
    '409 `export_not_ready` until the export succeeded, 410 `gone` once it expired. `?redirect=true` answers ' +
    '302 to a presigned URL valid 5 minutes.',
  middleware: [...authenticated()],
  request: {
    params,
    query: z.object({ redirect: z.enum(['true', 'false']).default('false') }),
    headers: z.object({ range: z.string().max(1024).optional() }),
  },
  responses: {
    200: {
      description: 'The ZIP',
      headers: { ETag: { description: 'The ZIP’s SHA-256', schema: { type: 'string' } } },
      content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } },
    },
    206: {
      description: 'The requested range',
      content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } },
    },
    302: { description: 'Redirect to a presigned URL (5 minutes)' },
  },
  extraProblems: ['export_not_ready', 'gone', 'range_not_satisfiable'],
});

export const deleteExportRoute = defineRoute({
  ...owner,
  method: 'delete',
  path: '/v1/exports/{id}',
  operationId: 'deleteExport',
  summary: 'Cancel a queued or running export, or delete a finished one',
  description: 'A running export stops within 10 s and leaves no object.',
  middleware: [...authenticated()],
  request: { params },
  responses: { 204: { description: 'Canceled or deleted' } },
});
