import { createHash } from 'node:crypto';
import { and, eq, lt, sql } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { idempotencyKeys } from '../db/platform.tables.ts';
import { idempotencyOutcomes } from '../telemetry/metrics.ts';
import type { AppEnv } from './app-env.ts';
import { AppError } from './problem.ts';

const RETENTION = sql`interval '24 hours'`;
// How long a first request may run before its key can be taken over (it crashed or was cut).
const LOCK_MS = 60_000;
const REPLAYED_HEADERS = ['content-type', 'location', 'etag'];

/** The request header as documented by every route that accepts it. */
export const idempotencyKeyHeader = z.object({
  'idempotency-key': z.string().optional().meta({
    description: 'IETF Idempotency-Key: `"…"` (1–255 characters); retries replay the first response for 24 h',
  }),
});

/**
 * The IETF draft's sf-string (`"abc"`), or the bare value most clients send: 1–255 visible ASCII
 * characters. Anything else is a malformed header.
 */
export function parseIdempotencyKey(header: string): string | undefined {
  const quoted = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/.exec(header);
  const value = quoted ? quoted[1]!.replace(/\\(["\\])/g, '$1') : header;
  if (!quoted && !/^[\x21\x23-\x7e]+$/.test(value)) return undefined;
  return value.length >= 1 && value.length <= 255 ? value : undefined;
}

/**
 * `Idempotency-Key` for a POST: the first request runs and its response is stored for 24 h per
 * principal; a retry with the same request replays it (`Idempotent-Replayed: true`); the same key with
 * another request is 422; a retry while the first still runs is 409. Only responses below 400 are
 * kept: after a validation error or a 5xx the key is released, so a corrected retry runs (Stripe's rule).
 * Must run after authentication.
 */
export const idempotent =
  (options: { streamedBody?: boolean } = {}): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const header = c.req.header('idempotency-key');
    if (header === undefined) return next();
    const key = parseIdempotencyKey(header);
    if (key === undefined) {
      throw new AppError('bad_request', { detail: 'Idempotency-Key must be 1–255 visible ASCII characters' });
    }
    const principal = c.get('principal')?.userId;
    if (!principal) throw new Error('idempotent() needs an authenticated principal');
    const { db } = c.get('services');
    const fingerprint = createHash('sha256').update(`${c.req.method} ${c.req.path}\n`);
    if (options.streamedBody) {
      // An upload is not read twice: its fingerprint is the declared size and media type (without the
      // per-request multipart boundary), so a retry of the same upload matches and a different one
      // mostly does not. The draft leaves the fingerprint to the server.
      const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      fingerprint.update(`${type}\n${c.req.header('content-length') ?? 'chunked'}`);
    } else {
      fingerprint.update(new Uint8Array(await c.req.arrayBuffer())); // cached by Hono for the validator
    }
    const fingerprintHex = fingerprint.digest('hex');
    const where = and(eq(idempotencyKeys.principal, principal), eq(idempotencyKeys.key, key));

    // One statement claims the key: a new row, or a record past its retention taken over as new.
    const lockedUntil = new Date(Date.now() + LOCK_MS);
    const [claimed] = await db
      .insert(idempotencyKeys)
      .values({ principal, key, fingerprint: fingerprintHex, lockedUntil })
      .onConflictDoUpdate({
        target: [idempotencyKeys.principal, idempotencyKeys.key],
        set: {
          fingerprint: fingerprintHex,
          responseStatus: null,
          responseHeaders: null,
          responseBody: null,
          createdAt: sql`now()`,
          lockedUntil,
        },
        setWhere: lt(idempotencyKeys.createdAt, sql`now() - ${RETENTION}`),
      })
      .returning({ key: idempotencyKeys.key });

    if (!claimed) {
      const [existing] = await db.select().from(idempotencyKeys).where(where);
      if (!existing) {
        idempotencyOutcomes.inc({ outcome: 'in_progress' });
        throw new AppError('idempotency_in_progress', { headers: { 'Retry-After': '1' } });
      }
      if (existing.fingerprint !== fingerprintHex) {
        idempotencyOutcomes.inc({ outcome: 'conflict' });
        throw new AppError('idempotency_key_reused');
      }
      if (existing.responseStatus !== null) {
        idempotencyOutcomes.inc({ outcome: 'replayed' });
        const headers = new Headers(existing.responseHeaders ?? {});
        headers.set('Idempotent-Replayed', 'true');
        return c.body(
          existing.responseBody ?? '',
          existing.responseStatus as 200,
          Object.fromEntries(headers),
        );
      }
      // Still running, unless the first request died without releasing its lock: then take over.
      const [takenOver] = await db
        .update(idempotencyKeys)
        .set({ lockedUntil: new Date(Date.now() + LOCK_MS) })
        .where(and(where, lt(idempotencyKeys.lockedUntil, new Date())))
        .returning({ key: idempotencyKeys.key });
      if (!takenOver) {
        idempotencyOutcomes.inc({ outcome: 'in_progress' });
        throw new AppError('idempotency_in_progress', { headers: { 'Retry-After': '1' } });
      }
    }
    idempotencyOutcomes.inc({ outcome: 'executed' });

    await next();

    if (c.res.status >= 400) {
      await db.delete(idempotencyKeys).where(where);
      return;
    }
    const stored = Object.fromEntries(
      REPLAYED_HEADERS.flatMap((name) => {
        const value = c.res.headers.get(name);
        return value === null ? [] : [[name, value]];
      }),
    );
    await db
      .update(idempotencyKeys)
      .set({
        responseStatus: c.res.status,
        responseHeaders: stored,
        responseBody: await c.res.clone().text(),
      })
      .where(where);
  };
