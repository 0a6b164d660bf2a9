import { LRUCache } from 'lru-cache';
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
  const enabled = options.ttlMs > 0;
  const holdMs = options.holdMs ?? 10_000;
  // `session:<id>` being revoked by a transaction of this instance: nothing about it is stored until
  // that change's notification arrives (it is sent at commit), or the hold expires (the transaction
  // rolled back). Without it, a request between the eviction and the commit would read the old row and
  // store it again.
  const holds = new Map<string, number>();
  const held = (key: string) => {
    const until = holds.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    holds.delete(key);
    return false;
  };
  const entries = new LRUCache<string, SessionHolder>({
    max: options.max ?? 10_000,
    ttl: options.ttlMs || 1,
  });
  let trusted = false;
  // Bumped by every eviction: a lookup that started before one may have read what it evicted.
  let generation = 0;

  const forget = (matches: (sessionId: string, holder: SessionHolder) => boolean) => {
    generation++;
    const doomed: string[] = [];
    for (const [sessionId, holder] of entries.entries())
      if (matches(sessionId, holder)) doomed.push(sessionId);
    for (const sessionId of doomed) entries.delete(sessionId);
  };

  return {
    get(sessionId: string): SessionHolder | undefined {
      return trusted ? entries.get(sessionId) : undefined;
    },
    /** Taken before a lookup and handed to `set`, which drops the result if anything was evicted since. */
    version: () => generation,
    set(sessionId: string, holder: SessionHolder, version: number, sessionExpiresAt: Date) {
      if (!enabled || !trusted || version !== generation) return;
      if (holds.size > 0 && held(`session:${sessionId}`)) return;
      const ttl = Math.min(options.ttlMs, sessionExpiresAt.getTime() - Date.now());
      if (ttl > 0) entries.set(sessionId, holder, { ttl });
    },
    /** Called inside a transaction that revokes the session: evicts it and holds it until the commit is heard. */
    forgetSession(sessionId: string) {
      const now = Date.now();
      // Holds whose notification never came (rolled back, or sent while not listening) are dropped here.
      if (holds.size >= 1000) for (const [key, until] of holds) if (until <= now) holds.delete(key);
      holds.set(`session:${sessionId}`, now + holdMs);
      forget((id) => id === sessionId);
    },
    /**
     * A committed change: a `principal_changes` payload, `session:<id>` or `user:<id>` (anything else
     * empties the cache). Ends the hold `forgetSession` put on it.
     */
    applyChange(payload: string) {
      const [kind, id] = payload.split(':');
      holds.delete(payload);
      if (kind === 'session' && id) forget((sessionId) => sessionId === id);
      else if (kind === 'user' && id) forget((_, holder) => holder.userId === id);
      else this.clear();
    },
    clear: () => forget(() => true),
    /** The change channel is listened to (again): start empty, then answer. */
    trust() {
      this.clear();
      trusted = true;
    },
    /** The change channel is lost: changes may go unseen, so answer nothing until `trust()`. */
    distrust() {
      trusted = false;
      this.clear();
    },
    get size() {
      return entries.size;
    },
  };
}

export type SessionCache = ReturnType<typeof createSessionCache>;
