import { z } from 'zod';
import { AppError } from './problem.ts';
import { queryInt } from './query-params.ts';
import { findUnstorableText } from './storable-text.ts';

/** Opaque pagination cursors: base64url JSON of the last row's sort key. Clients must not build them. */
export const encodeCursor = (position: unknown): string =>
  Buffer.from(JSON.stringify(position)).toString('base64url');

export function decodeCursor<T extends z.ZodType>(
  cursor: string | undefined,
  schema: T,
): z.infer<T> | undefined {
  if (cursor === undefined) return undefined;
  // Decoded, a cursor is input like any other: the same storable-text rule, then its strict schema.
  try {
    if (!/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) throw new Error('not base64url');
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (findUnstorableText(decoded) === undefined) {
      const parsed = schema.safeParse(decoded);
      if (parsed.success) return parsed.data;
    }
  } catch {}
  throw new AppError('validation_failed', {
    detail: '1 field is invalid',
    errors: [{ location: 'query', path: 'cursor', message: 'Not a cursor this API issued' }],
  });
}

/** Query parameters every list operation takes. */
export const pageQuery = {
  limit: queryInt({ min: 1, max: 100, default: 20 }).meta({ example: 20 }),
  cursor: z.string().max(512).optional().meta({ description: 'The `next_cursor` of the previous page' }),
};
