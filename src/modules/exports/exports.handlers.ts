import { Readable } from 'node:stream';
import type { RouteHandler } from '@hono/zod-openapi';
import { combineRanges, parse as parseRange } from 'range-parser';
import { z } from 'zod';
import type { AppEnv } from '../../platform/app-env.ts';
import { decodeCursor, encodeCursor } from '../../platform/cursor.ts';
import { fromPublicId } from '../../platform/ids.ts';
import { AppError } from '../../platform/problem.ts';
import { auditContextOf } from '../audit/audit-context.ts';
import { principalOf } from '../auth/authenticate.ts';
import type {
  createExportRoute,
  deleteExportRoute,
  getExportContentRoute,
  getExportRoute,
  listExportsRoute,
} from './exports.routes.ts';
import { toExport } from './exports.routes.ts';

const PRESIGNED_TTL_S = 300;

const exportId = (id: string) => {
  const uuid = fromPublicId('exp', id);
  if (!uuid) throw new AppError('not_found');
  return uuid;
};

export const createExport: RouteHandler<typeof createExportRoute, AppEnv> = async (c) => {
  const body = c.req.valid('json');
  const row = await c.get('services').exports.create(
    principalOf(c).userId,
    {
      documentIds: body.document_ids?.map((id) => fromPublicId('doc', id)!),
      q: body.q,
    },
    auditContextOf(c),
  );
  const view = toExport(row);
  c.header('Location', `/v1/exports/${view.id}`);
  return c.json({ export: view }, 202);
};

const positionSchema = z.object({ c: z.iso.datetime(), i: z.uuid() });

export const listExports: RouteHandler<typeof listExportsRoute, AppEnv> = async (c) => {
  const { limit, cursor } = c.req.valid('query');
  const position = decodeCursor(cursor, positionSchema);
  const rows = await c.get('services').exports.list(principalOf(c).userId, {
    limit: limit + 1,
    before: position && { createdAt: new Date(position.c), id: position.i },
  });
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const next =
    rows.length > limit && last ? encodeCursor({ c: last.createdAt.toISOString(), i: last.id }) : null;
  return c.json({ data: page.map(toExport), next_cursor: next }, 200);
};

export const getExport: RouteHandler<typeof getExportRoute, AppEnv> = async (c) => {
  const row = await c.get('services').exports.get(principalOf(c).userId, exportId(c.req.valid('param').id));
  c.header('Cache-Control', 'no-store');
  return c.json(toExport(row), 200);
};

export const getExportContent: RouteHandler<typeof getExportContentRoute, AppEnv> = async (c) => {
  const { exports } = c.get('services');
  const row = await exports.ready(principalOf(c).userId, exportId(c.req.valid('param').id));
  const filename = `stowage-export-${row.createdAt.toISOString().slice(0, 10)}.zip`;
  const disposition = `attachment; filename="${filename}"`;
  const size = row.sizeBytes ?? 0;
  if (c.req.valid('query').redirect === 'true') {
    await exports.recordDownload(row, auditContextOf(c));
    c.header('Cache-Control', 'no-store');
    return c.redirect(await exports.downloadUrl(row, disposition, PRESIGNED_TTL_S), 302);
  }
  const header = c.req.valid('header').range;
  // range-parser codes: 0 parsed, 1 malformed (ignored), 2 unsatisfiable.
  const parsed = header && size > 0 ? parseRange(size, header) : undefined;
  if (parsed?.code === 2) {
    throw new AppError('range_not_satisfiable', { headers: { 'Content-Range': `bytes */${size}` } });
  }
  const ranges = parsed?.code === 0 && parsed.type === 'bytes' ? combineRanges(parsed.ranges) : [];
  const range = ranges.length === 1 ? ranges[0]! : undefined;
  const body = await exports.openContent(row, range, c.get('signal'));
  await exports.recordDownload(row, auditContextOf(c));
  return c.body(Readable.toWeb(body) as ReadableStream, range ? 206 : 200, {
    'Content-Type': 'application/zip',
    'Content-Disposition': disposition,
    'Content-Length': String(range ? range.end - range.start + 1 : size),
    ETag: `"${row.sha256}"`,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'private, no-cache',
    ...(range ? { 'Content-Range': `bytes ${range.start}-${range.end}/${size}` } : {}),
  });
};

export const deleteExport: RouteHandler<typeof deleteExportRoute, AppEnv> = async (c) => {
  await c
    .get('services')
    .exports.remove(principalOf(c).userId, exportId(c.req.valid('param').id), auditContextOf(c));
  return c.body(null, 204);
};
