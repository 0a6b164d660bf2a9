import { z } from '@hono/zod-openapi';
import { pageQuery } from '../../platform/cursor.ts';
import { idempotencyKeyHeader, idempotent } from '../../platform/idempotency.ts';
import { publicIdSchema, toPublicId } from '../../platform/ids.ts';
import { defineRoute, jsonBody, jsonContent, problem } from '../../platform/openapi.ts';
import { uploadSlot } from '../../platform/rate-limit/upload-slots.ts';
import { authenticated, SESSION_OR_KEY } from '../auth/authenticate.ts';
import type { DocumentRow } from './documents.tables.ts';

export const documentSchema = z
  .object({
    id: publicIdSchema('doc'),
    name: z.string().meta({ example: 'q3-report.pdf' }),
    content_type: z.string().meta({ example: 'application/pdf' }),
    size_bytes: z.number().int().meta({ example: 482_133 }),
    sha256: z.string().meta({ example: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' }),
    metadata: z.record(z.string(), z.unknown()).meta({ example: { project: 'atlas' } }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'Document' });

export const toDocument = (row: DocumentRow): z.infer<typeof documentSchema> => ({
  id: toPublicId('doc', row.id),
  name: row.name,
  content_type: row.contentType,
  size_bytes: row.sizeBytes,
  sha256: row.sha256 ?? '',
  metadata: row.metadata,
  created_at: row.createdAt.toISOString(),
  updated_at: row.updatedAt.toISOString(),
});

const owner = { tags: ['Documents'], security: SESSION_OR_KEY };
const params = z.object({ id: publicIdSchema('doc') });
const etagHeader = {
  ETag: { description: 'Version of the representation', schema: { type: 'string' as const } },
};

export const uploadDocumentRoute = defineRoute({
  ...owner,
  method: 'post',
  path: '/v1/documents',
  operationId: 'uploadDocument',
  summary: 'Upload a document (streamed to storage)',
  description:
    'Parts: `file` (required), `name` (optional, else the file name), `metadata` (optional JSON object, ≤ 4 KiB). ' +
    'Any content type is accepted unless the operator sets `ALLOWED_CONTENT_TYPES`; the stored `content_type` ' +
    'is the part’s declared type (`application/octet-stream` when absent). With `ALLOWED_CONTENT_TYPES`, only ' +
    'those, and the bytes must match the declared type; a refused type answers 415 `unsupported_media_type` ' +
    'with the accepted types in `detail`. With curl: ' +
    "`curl -F file=@report.pdf -F name=Q3 -H 'Authorization: Bearer …' …/v1/documents`. " +
    'The upload is cut off with 413 as soon as it passes `MAX_UPLOAD_BYTES` (`payload_too_large`) or the ' +
    'remaining quota (`quota_exceeded`); a failed upload leaves nothing behind; a body that ends before the ' +
    'closing boundary is 400, one that sends nothing for `BODY_IDLE_TIMEOUT_MS` is 408. At most 4 uploads of ' +
    'an account run at once (`uploads_in_flight`: 429). `Idempotency-Key` makes retries safe.',
  middleware: [...authenticated(), uploadSlot(), idempotent({ streamedBody: true })],
  request: {
    headers: idempotencyKeyHeader,
    body: {
      required: true,
      // A plain schema on purpose: a zod schema would make zod-openapi parse (and buffer) the form.
      content: {
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: ['file'],
            properties: {
              // OpenAPI 3.1 spells a file as contentMediaType; format: binary is for 3.0-era tools.
              file: {
                type: 'string',
                format: 'binary',
                contentMediaType: 'application/octet-stream',
                description: 'The document’s bytes, with the part’s own `Content-Type`.',
              },
              name: {
                type: 'string',
                maxLength: 255,
                description: 'Defaults to the file name.',
                examples: ['q3-report.pdf'],
              },
              metadata: {
                type: 'string',
                contentMediaType: 'application/json',
                description: 'A JSON object, at most 4 KiB, e.g. `{"project":"atlas"}`.',
                examples: ['{"project":"atlas"}'],
              },
            },
          },
        },
      },
    },
  },
  responses: {
    201: {
      description: 'Stored',
      headers: {
        Location: { description: 'URL of the document', schema: { type: 'string' } },
        'Idempotent-Replayed': { description: '`true` when replayed', schema: { type: 'string' } },
        ...etagHeader,
      },
      content: jsonContent(z.object({ document: documentSchema })),
    },
  },
  extraProblems: ['quota_exceeded', 'request_timeout', 'idempotency_in_progress', 'idempotency_key_reused'],
});

export const listDocumentsRoute = defineRoute({
  ...owner,
  method: 'get',
  path: '/v1/documents',
  operationId: 'listDocuments',
  summary: 'List documents',
  description:
    'Newest first by default. `next_cursor` is opaque: pass it back as `cursor` with the same `order` for the ' +
    'next page; pages stay stable while documents are added.',
  middleware: [...authenticated()],
  request: {
    query: z.object({
      ...pageQuery,
      q: z
        .string()
        .trim()
        .min(1)
        .max(255)
        .optional()
        .meta({ description: 'Name contains (case-insensitive)' }),
      content_type: z.string().max(255).optional().meta({ example: 'application/pdf' }),
      order: z.enum(['created_at.desc', 'created_at.asc', 'name.asc']).default('created_at.desc'),
    }),
  },
  responses: {
    200: {
      description: 'A page of documents. Pages stay stable while documents are added.',
      content: jsonContent(z.object({ data: z.array(documentSchema), next_cursor: z.string().nullable() })),
    },
  },
});

export const getDocumentRoute = defineRoute({
  ...owner,
  method: 'get',
  path: '/v1/documents/{id}',
  operationId: 'getDocument',
  summary: 'A document’s metadata',
  description:
    'The `ETag` changes with every update; send it back in `If-None-Match` (304) or `If-Match` (PATCH, DELETE).',
  middleware: [...authenticated()],
  request: { params, headers: z.object({ 'if-none-match': z.string().max(1024).optional() }) },
  responses: {
    200: { description: 'The document', headers: etagHeader, content: jsonContent(documentSchema) },
    304: { description: 'Not modified (If-None-Match)' },
  },
});

export const getContentRoute = defineRoute({
  ...owner,
  method: 'get',
  path: '/v1/documents/{id}/content',
  operationId: 'getDocumentContent',
  summary: 'Download the bytes (ranges supported)',
  description:
    'Streams the document with `Content-Disposition: attachment`. `Range: bytes=…` (one range) answers 206 ' +
    '(with `If-Range`: only while it matches the ETag, else 200 with everything), an unsatisfiable range 416 ' +
    'with `Content-Range: bytes */<size>`. `?redirect=true` answers 302 to a presigned URL valid 5 minutes.',
  middleware: [...authenticated()],
  request: {
    params,
    query: z.object({ redirect: z.enum(['true', 'false']).default('false') }),
    headers: z.object({
      range: z.string().max(1024).optional(),
      'if-range': z.string().max(1024).optional().meta({
        description: 'The ETag a resumed download had: the range only if it still matches, else all of it',
      }),
      'if-none-match': z.string().max(1024).optional(),
    }),
  },
  responses: {
    200: {
      description: 'The bytes',
      headers: etagHeader,
      content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
    },
    206: {
      description: 'The requested range',
      headers: {
        ...etagHeader,
        'Content-Range': {
          description: '`bytes <first>-<last>/<size>` (RFC 9110 §14.4).',
          schema: { type: 'string' },
        },
      },
      content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
    },
    302: {
      description: 'Redirect to a presigned URL (5 minutes)',
      headers: {
        Location: { description: 'The presigned URL of the object store.', schema: { type: 'string' } },
      },
    },
    304: { description: 'Not modified (If-None-Match)' },
    416: problem(416, ['range_not_satisfiable'], {
      'Content-Range': {
        description: '`bytes */<size>`: the document’s size, to ask for a range within it.',
        schema: { type: 'string' },
      },
    }),
  },
});

export const updateDocumentRoute = defineRoute({
  ...owner,
  method: 'patch',
  // A name and at most 4 KiB of metadata.
  maxBodyBytes: 16 * 1024,
  path: '/v1/documents/{id}',
  operationId: 'updateDocument',
  summary: 'Rename a document or replace its metadata',
  description: 'With `If-Match`, a stale ETag answers 412 `precondition_failed`.',
  middleware: [...authenticated()],
  request: {
    params,
    headers: z.object({ 'if-match': z.string().max(1024).optional() }),
    body: jsonBody(
      z
        .object({
          name: z.string().max(255).optional(),
          metadata: z
            .record(z.string(), z.unknown())
            .refine((value) => Buffer.byteLength(JSON.stringify(value)) <= 4096, 'at most 4 KiB')
            .optional(),
        })
        .refine(
          (patch) => patch.name !== undefined || patch.metadata !== undefined,
          'name or metadata is required',
        ),
    ),
  },
  responses: {
    200: { description: 'The updated document', headers: etagHeader, content: jsonContent(documentSchema) },
  },
  extraProblems: ['precondition_failed'],
});

export const deleteDocumentRoute = defineRoute({
  ...owner,
  method: 'delete',
  path: '/v1/documents/{id}',
  operationId: 'deleteDocument',
  summary: 'Delete a document; its quota is released at once',
  description:
    'Deletes the document and its bytes. With `If-Match`, a stale ETag answers 412 `precondition_failed` and ' +
    'nothing is deleted. If the object store does not answer within its timeout, the answer is 503 ' +
    '`service_unavailable` with `Retry-After` and the document is kept as it was.',
  middleware: [...authenticated()],
  request: { params, headers: z.object({ 'if-match': z.string().max(1024).optional() }) },
  responses: { 204: { description: 'Deleted' } },
  extraProblems: ['precondition_failed'],
});
