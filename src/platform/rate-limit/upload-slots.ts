import { randomInt } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import type { Db } from '../../db/client.ts';
import { rateLimits } from '../../db/platform.tables.ts';
import { preparedSql } from '../../db/prepared.ts';
import type { AppEnv } from '../app-env.ts';
import type { Logger } from '../logger.ts';
import { AppError } from '../problem.ts';

const POLICY = 'uploads_in_flight';
// A slot is a lease: its holder renews it while the upload runs, so a process that dies frees its
// slots within LEASE_MS instead of holding them forever.
const LEASE_MS = 30_000;
const RENEW_MS = 10_000;
// A concurrency limit has no window to wait for; this is when trying again is worth it.
const RETRY_S = 5;

export type Slot = { release: () => Promise<void> };
type Claim = { slot: Slot } | { inUse: number };

const P = sql.placeholder;

/**
 * One statement, one round trip: the first slot that is absent or lapsed is taken, and the primary
 * key decides a race. Two claims that pick the same free slot at once: one inserts, the other's
 * `on conflict … where` sees the winner's live lease and takes nothing, so it tries again (the next
 * free slot, or a refusal once all are live). A slot is never given twice.
 */
const takeSlot = preparedSql<{ key: string | null; in_use: number }>(
  'upload_slot_take',
  sql`
    with live as (
      select ${rateLimits.key} as key from ${rateLimits}
      where ${rateLimits.key} = any(${P('keys')}::text[]) and ${rateLimits.expire} > ${P('now')}
    ), free as (
      select k.key from unnest(${P('keys')}::text[]) with ordinality as k(key, n)
      where k.key not in (select key from live) order by k.n limit 1
    ), taken as (
      insert into ${rateLimits} (key, points, expire)
      select key, ${P('nonce')}, ${P('expire')} from free
      on conflict (key) do update set points = excluded.points, expire = excluded.expire
      where ${rateLimits.expire} is null or ${rateLimits.expire} <= ${P('now')}
      returning key
    )
    select (select key from taken) as key, (select count(*)::int from live) as in_use`,
);

const releaseSlot = preparedSql(
  'upload_slot_release',
  sql`delete from ${rateLimits} where ${rateLimits.key} = ${P('key')} and ${rateLimits.points} = ${P('nonce')}`,
);

/**
 * `uploads_in_flight` (API.md): at most `limit` uploads per account at once, across every instance.
 * Slots are rows `uploads_in_flight:<account>:<n>` of the shared rate_limits table (no schema of its
 * own): taken by one conditional upsert, so two instances never both take the last one; each row
 * carries its holder's nonce, so a holder whose lease lapsed never renews or frees another's.
 */
export function createUploadSlots(deps: { db: Db; limit: number; enabled: boolean; logger: Logger }) {
  const { db, limit, logger } = deps;
  // If Postgres is unreachable, slots are counted per instance (and said so), never not at all.
  const local = new Map<string, number>();

  const localClaim = (account: string): Claim => {
    const inUse = local.get(account) ?? 0;
    if (inUse >= limit) return { inUse };
    local.set(account, inUse + 1);
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      const left = (local.get(account) ?? 1) - 1;
      if (left > 0) local.set(account, left);
      else local.delete(account);
    };
    return { slot: { release } };
  };

  async function take(keys: string[], nonce: number): Promise<{ key?: string; inUse: number }> {
    const now = Date.now();
    const [row] = await takeSlot.execute(db, { keys, nonce, now, expire: now + LEASE_MS });
    return { key: row?.key ?? undefined, inUse: row?.in_use ?? keys.length };
  }

  async function claim(account: string): Promise<Claim> {
    const keys = Array.from({ length: limit }, (_, n) => `${POLICY}:${account}:${n}`);
    const nonce = randomInt(1, 2 ** 31 - 1);
    let taken: { key: string } | { inUse: number } = { inUse: limit };
    // A lost race is retried; each round either takes a slot or sees one more live lease.
    for (let round = 0; round < limit; round++) {
      const attempt = await take(keys, nonce);
      if (attempt.key !== undefined) {
        taken = { key: attempt.key };
        break;
      }
      taken = { inUse: attempt.inUse };
      if (attempt.inUse >= limit) break;
    }
    if ('inUse' in taken) return taken;
    const mine = and(eq(rateLimits.key, taken.key), eq(rateLimits.points, nonce));
    const renew = setInterval(() => {
      db.update(rateLimits)
        .set({ expire: Date.now() + LEASE_MS })
        .where(mine)
        .catch((error: unknown) => logger.warn({ err: error }, 'could not renew an upload slot'));
    }, RENEW_MS);
    renew.unref();
    let released: Promise<void> | undefined;
    const release = () => {
      clearInterval(renew);
      released ??= releaseSlot.execute(db, { key: taken.key, nonce }).then(
        () => {},
        // Not freed now, it lapses with its lease.
        (error: unknown) => logger.warn({ err: error }, 'could not release an upload slot'),
      );
      return released;
    };
    return { slot: { release } };
  }

  return {
    limit,
    /** Takes a slot of `account`, or answers why not. */
    async acquire(account: string): Promise<Claim> {
      try {
        return await claim(account);
      } catch (error) {
        logger.warn(
          { err: error, policy: POLICY },
          'upload slots unavailable in Postgres: counting per instance',
        );
        return localClaim(account);
      }
    },
    enabled: deps.enabled,
  };
}

export type UploadSlots = ReturnType<typeof createUploadSlots>;

/** The headers of a refusal, as API.md's rate-limit section describes them for a concurrency limit. */
export const uploadSlotHeaders = (limit: number): Record<string, string> => ({
  'RateLimit-Policy': `"${POLICY}";q=${limit}`,
  RateLimit: `"${POLICY}";r=0;t=${RETRY_S}`,
  'X-RateLimit-Limit': String(limit),
  'X-RateLimit-Remaining': '0',
  'X-RateLimit-Reset': String(RETRY_S),
  'Retry-After': String(RETRY_S),
});

/**
 * Holds one of the account's upload slots for the whole request (after authentication): the fifth
 * concurrent upload is 429 `rate_limited` before a byte of its body is read.
 */
export const uploadSlot = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  const slots = c.get('services').uploadSlots;
  const principal = c.get('principal');
  if (!slots.enabled || !principal) return next();
  const claim = await slots.acquire(principal.userId);
  if (!('slot' in claim)) {
    throw new AppError('rate_limited', {
      detail: `Rate limit "${POLICY}" reached: ${claim.inUse} of ${slots.limit} concurrent uploads of this account are running; retry in ${RETRY_S} s, or once one finishes`,
      headers: uploadSlotHeaders(slots.limit),
    });
  }
  try {
    await next();
  } finally {
    await claim.slot.release();
  }
};
