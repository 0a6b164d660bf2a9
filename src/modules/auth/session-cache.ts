import { LRUCache } from 'lru-cache';
import { sessionCacheListenerUp, sessionCacheLookups } from '../../telemetry/metrics.ts';
import type { UserRow } from '../users/users.tables.ts';

/** What a session request needs to know of its account once the session is known to be live. */
export type SessionHolder = Pick<UserRow, 'role' | 'tier'> & { userId: string };

/**
 * Live sessions' holders, remembered for a few seconds so a session request costs no lookups. Every
 * change that ends a session or alters its holder is announced on the `principal_changes` channel (by
 * triggers, migration 0005) and evicts here. The cache answers only while that channel is listened to:
 * a notification sent while not listening is lost, so losing the listener empties and disables it, and
 * listening again starts empty. The TTL bounds only what no notification could report (a connection
 * that died silently).
 */
export function createSessionCache(options: { ttlMs: number; max?: number; holdMs?: number }) {
  const holdMs = options.holdMs ?? 10_000;
  // Every entry gets its own TTL (never past its session's expiry), so the cache needs none of its own.
  const entries = new LRUCache<string, SessionHolder>({ max: options.max ?? 10_000 });
  // Sessions being revoked by a transaction of this instance, until when: nothing about them is stored
  // until that change's notification arrives (it is sent at commit), or the hold expires (the
  // transaction rolled back). Without it, a request between the eviction and the commit would read the
  // old row and store it again.
  const holds = new Map<string, number>();
  let trusted = false;
  // Bumped by every eviction: a lookup that started before one may have read what it evicted.
  let generation = 0;

  const held = (sessionId: string) => {
    const until = holds.get(sessionId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    holds.delete(sessionId);
    return false;
  };
  const evictSession = (sessionId: string) => {
    generation++;
    entries.delete(sessionId);
  };
  const evictUser = (userId: string) => {
    generation++;
    const doomed = [...entries.entries()].filter(([, holder]) => holder.userId === userId);
    for (const [sessionId] of doomed) entries.delete(sessionId);
  };
  const clear = () => {
    generation++;
    entries.clear();
  };

  return {
    get(sessionId: string): SessionHolder | undefined {
      const holder = trusted ? entries.get(sessionId) : undefined;
      sessionCacheLookups.inc({ outcome: holder ? 'hit' : 'miss' });
      return holder;
    },
    /** Taken before a lookup and handed to `set`, which drops the result if anything was evicted since. */
    version: () => generation,
    set(sessionId: string, holder: SessionHolder, version: number, sessionExpiresAt: Date) {
      if (!trusted || version !== generation || held(sessionId)) return;
      const ttl = Math.min(options.ttlMs, sessionExpiresAt.getTime() - Date.now());
      if (ttl > 0) entries.set(sessionId, holder, { ttl });
    },
    /** Called inside a transaction that revokes the session: evicts it and holds it until the commit is heard. */
    forgetSession(sessionId: string) {
      const now = Date.now();
      // Holds whose notification never came (rolled back, or sent while not listening) are dropped here.
      if (holds.size >= 1000) for (const [id, until] of holds) if (until <= now) holds.delete(id);
      holds.set(sessionId, now + holdMs);
      evictSession(sessionId);
    },
    /**
     * A committed change: a `principal_changes` payload, `session:<id>` or `user:<id>` (anything else
     * empties the cache). Ends the hold `forgetSession` put on that session.
     */
    applyChange(payload: string) {
      const [kind, id] = payload.split(':');
      if (kind === 'session' && id) {
        holds.delete(id);
        evictSession(id);
      } else if (kind === 'user' && id) evictUser(id);
      else clear();
    },
    /** The change channel is listened to (again): start empty, then answer. */
    trust() {
      clear();
      trusted = true;
      sessionCacheListenerUp.set(1);
    },
    /** The change channel is lost: changes may go unseen, so answer nothing until `trust()`. */
    distrust() {
      trusted = false;
      sessionCacheListenerUp.set(0);
      clear();
    },
    get size() {
      return entries.size;
    },
  };
}

export type SessionCache = ReturnType<typeof createSessionCache>;
