import { Readable } from 'node:stream';
import type { RouteHandler } from '@hono/zod-openapi';
import { create as contentDisposition } from 'content-disposition';
import fresh from 'fresh';
import { combineRanges, parse as parseRange } from 'range-parser';
import { z } from 'zod';
import type { AppEnv } from '../../platform/app-env.ts';
import { decodeCursor, encodeCursor } from '../../platform/cursor.ts';
import { fromPublicId } from '../../platform/ids.ts';
import { AppError } from '../../platform/problem.ts';
import { countUpload } from '../../telemetry/outcomes.ts';
import { auditContextOf } from '../audit/audit-context.ts';
import { principalOf } from '../auth/authenticate.ts';
import type {
  deleteDocumentRoute,
  getContentRoute,
  getDocumentRoute,
  listDocumentsRoute,
  updateDocumentRoute,
  uploadDocumentRoute,
} from './documents.routes.ts';
import { toDocument } from './documents.routes.ts';
import type { DocumentRow } from './documents.tables.ts';

const PRESIGNED_TTL_S = 300;

/** The metadata's ETag changes with every PATCH; the content's is its SHA-256 and never changes. */
const metadataEtag = (row: DocumentRow) => `"v${row.version}"`;
const contentEtag = (row: DocumentRow) => `"${row.sha256}"`;

const documentId = (id: string) => {
  const uuid = fromPublicId('doc', id);
  if (!uuid) throw new AppError('not_found');
  return uuid;
};

const notModified = (ifNoneMatch: string | undefined, etag: string) =>
  ifNoneMatch !== undefined && fresh({ 'if-none-match': ifNoneMatch }, { etag });

/** Strong comparison (RFC 9110 §13.1.1): `*` or one of the listed tags, never a weak one. */
const ifMatchVersion = (header: string | undefined): number | undefined => {
  if (header === undefined || header.trim() === '*') return undefined;
  const versions = header.split(',').map((tag) => /^\s*"v(\d+)"\s*$/.exec(tag)?.[1]);
  const version = versions.find((v) => v !== undefined);
  // A tag of another shape can never match: -1 makes the update's version check fail (412).
  return version === undefined ? -1 : Number(version);
};

export const uploadDocument: RouteHandler<typeof uploadDocumentRoute, AppEnv> = async (c) => {
  const contentType = c.req.header('content-type') ?? '';
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    throw new AppError('unsupported_media_type', { detail: 'Send the document as multipart/form-data' });
  }
  // On the Node server the body is read from the socket's own stream: no web-stream round trip, whose
  // extra queues cost memory at upload speed. (Under app.request() there is only the web stream.)
  const incoming = c.env?.incoming;
  const body = incoming?.readable
    ? incoming
    : c.req.raw.body
      ? Readable.fromWeb(c.req.raw.body as never)
      : undefined;
  if (!body)
    throw new AppError('validation_failed', {
      errors: [{ location: 'body', path: 'file', message: 'Required' }],
    });
  const declared = c.req.header('content-length');
  // No `Connection: close` on a refusal: closing with unread body bytes makes the kernel reset the
  // connection and the client may lose the 413. @hono/node-server drains the rest (bounded: 64 MiB or
  // 500 ms) and then closes, so the answer goes out first.
  const { documents } = c.get('services');
  const row = await countUpload(
    documents.upload(
      principalOf(c).userId,
      { contentType, contentLength: declared ? Number(declared) : undefined, body },
      c.get('signal'),
      auditContextOf(c),
    ),
    c.get('signal'),
  );
  const document = toDocument(row);
  c.header('Location', `/v1/documents/${document.id}`);
  c.header('ETag', metadataEtag(row));
  return c.json({ document }, 201);
};

const positionSchema = z.object({
  o: z.enum(['created_at.desc', 'created_at.asc', 'name.asc']),
  c: z.iso.datetime().optional(),
  n: z.string().optional(),
  i: z.uuid(),
});

export const listDocuments: RouteHandler<typeof listDocumentsRoute, AppEnv> = async (c) => {
  const { limit, cursor, q, content_type, order } = c.req.valid('query');
  const position = decodeCursor(cursor, positionSchema);
  if (position && position.o !== order) {
    throw new AppError('validation_failed', {
      detail: '1 field is invalid',
      errors: [{ location: 'query', path: 'cursor', message: 'This cursor belongs to another order' }],
    });
  }
  const rows = await c.get('services').documents.list(principalOf(c).userId, {
    limit: limit + 1,
    order,
    q,
    contentType: content_type,
    after: position && {
      order,
      id: position.i,
      createdAt: position.c ? new Date(position.c) : undefined,
      name: position.n,
    },
  });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const next =
    rows.length > limit && last
      ? encodeCursor(
          order === 'name.asc'
            ? { o: order, n: last.name, i: last.id }
            : { o: order, c: last.createdAt.toISOString(), i: last.id },
        )
      : null;
  return c.json({ data: page.map(toDocument), next_cursor: next }, 200);
};

export const getDocument: RouteHandler<typeof getDocumentRoute, AppEnv> = async (c) => {
  const { documents } = c.get('services');
  const row = await documents.get(principalOf(c).userId, documentId(c.req.valid('param').id));
  c.header('ETag', metadataEtag(row));
  c.header('Cache-Control', 'private, no-cache');
  if (notModified(c.req.valid('header')['if-none-match'], metadataEtag(row))) return c.body(null, 304);
  return c.json(toDocument(row), 200);
};

export const getContent: RouteHandler<typeof getContentRoute, AppEnv> = async (c) => {
  const { documents } = c.get('services');
  const row = await documents.get(principalOf(c).userId, documentId(c.req.valid('param').id));
  const headers = c.req.valid('header');
  const disposition = contentDisposition(row.name, { type: 'attachment' });
  if (c.req.valid('query').redirect === 'true') {
    c.header('Cache-Control', 'no-store');
    return c.redirect(await documents.downloadUrl(row, disposition, PRESIGNED_TTL_S), 302);
  }
  const common = {
    ETag: contentEtag(row),
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'private, no-cache',
    'Content-Disposition': disposition,
  };
  if (notModified(headers['if-none-match'], contentEtag(row))) return c.body(null, 304, common);

  // range-parser codes: 0 parsed, 1 malformed, 2 unsatisfiable.
  const parsed = headers.range && row.sizeBytes > 0 ? parseRange(row.sizeBytes, headers.range) : undefined;
  if (parsed?.code === 2) {
    throw new AppError('range_not_satisfiable', { headers: { 'Content-Range': `bytes */${row.sizeBytes}` } });
  }
  // A malformed Range header is ignored (RFC 9110 §14.2); several disjoint ranges get the whole document.
  const ranges = parsed?.code === 0 && parsed.type === 'bytes' ? combineRanges(parsed.ranges) : [];
  const range = ranges.length === 1 ? ranges[0]! : undefined;
  const body = await documents.openContent(row, range, c.get('signal'));
  const length = range ? range.end - range.start + 1 : row.sizeBytes;
  return c.body(Readable.toWeb(body) as ReadableStream, range ? 206 : 200, {
    ...common,
    'Content-Type': row.contentType,
    'Content-Length': String(length),
    ...(range ? { 'Content-Range': `bytes ${range.start}-${range.end}/${row.sizeBytes}` } : {}),
  });
};

export const updateDocument: RouteHandler<typeof updateDocumentRoute, AppEnv> = async (c) => {
  const { documents } = c.get('services');
  const row = await documents.update(
    principalOf(c).userId,
    documentId(c.req.valid('param').id),
    c.req.valid('json'),
    ifMatchVersion(c.req.valid('header')['if-match']),
  );
  c.header('ETag', metadataEtag(row));
  return c.json(toDocument(row), 200);
};

export const deleteDocument: RouteHandler<typeof deleteDocumentRoute, AppEnv> = async (c) => {
  const { documents } = c.get('services');
  await documents.remove(principalOf(c).userId, documentId(c.req.valid('param').id), auditContextOf(c));
  return c.body(null, 204);
};
