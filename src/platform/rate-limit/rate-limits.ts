import { createHash } from 'node:crypto';
import {
  type IRateLimiterStoreOptions,
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import type { Config } from '../../config.ts';
import { rateLimitDecisions, recordRateLimitFallback } from '../../telemetry/metrics.ts';
import type { Logger } from '../logger.ts';
import { AppError } from '../problem.ts';
import { createLimiterPool } from './limiter-pool.ts';

type Rate = { points: number; windowS: number; burst?: number };
export type Tier = keyof Config['rateLimits']['apiKey'];

/** The policies a route can name (API.md's table); `login_failures` is applied by the login service. */
export type PolicyName = 'login' | 'register' | 'password_reset' | 'account' | 'api_key';

/** One window of one policy after a decision: what the rate-limit headers report. */
export type WindowState = {
  policy: string;
  limit: number;
  windowS: number;
  remaining: number;
  resetS: number;
};

export type Decision = { allowed: boolean; windows: WindowState[] };

/** Where the insurance limiter answered instead of Postgres: counted, and logged once per interval. */
function fallbackRecorder(logger: Logger, intervalMs = 10_000) {
  let total = 0;
  let sinceLog = 0;
  let lastLog = Number.NEGATIVE_INFINITY;
  return {
    record(policy: string) {
      recordRateLimitFallback(policy);
      total++;
      sinceLog++;
      const now = Date.now();
      if (now - lastLog < intervalMs) return;
      logger.warn(
        { policy, fallback_decisions: sinceLog, fallback_decisions_total: total },
        'rate limiter store unavailable: deciding from this instance’s memory',
      );
      lastLog = now;
      sinceLog = 0;
    },
    get total() {
      return total;
    },
  };
}

/** A per-instance memory limiter that reports every decision it makes. */
class InsuranceLimiter extends RateLimiterMemory {
  private readonly onUse: (policy: string) => void;
  constructor(
    options: { points: number; duration: number; keyPrefix: string },
    onUse: (policy: string) => void,
  ) {
    super(options);
    this.onUse = onUse;
  }
  override consume(...args: Parameters<RateLimiterMemory['consume']>) {
    this.onUse(this.keyPrefix);
    return super.consume(...args);
  }
  override get(...args: Parameters<RateLimiterMemory['get']>) {
    this.onUse(this.keyPrefix);
    return super.get(...args);
  }
  override block(...args: Parameters<RateLimiterMemory['block']>) {
    this.onUse(this.keyPrefix);
    return super.block(...args);
  }
  override delete(...args: Parameters<RateLimiterMemory['delete']>) {
    this.onUse(this.keyPrefix);
    return super.delete(...args);
  }
}

const windowOf = (
  policy: string,
  rate: { points: number; windowS: number },
  res: RateLimiterRes,
  allowed = true,
): WindowState => ({
  policy,
  limit: rate.points,
  windowS: rate.windowS,
  // A key refused from memory comes back with nothing consumed: it has nothing left either.
  remaining: allowed ? Math.max(0, rate.points - res.consumedPoints) : 0,
  resetS: res.msBeforeNext < 0 ? rate.windowS : Math.ceil(res.msBeforeNext / 1000),
});

/** rate-limiter-flexible rejects with a RateLimiterRes when over the limit, and with an Error otherwise. */
async function settle(limiter: RateLimiterPostgres, key: string) {
  try {
    return { allowed: true, res: await limiter.consume(key) };
  } catch (outcome) {
    if (outcome instanceof RateLimiterRes) return { allowed: false, res: outcome };
    throw outcome;
  }
}

// Public in rate-limiter-flexible's JavaScript, missing from its type declarations.
type InMemoryBlocks = { getInMemoryBlockMsBeforeExpire(rlKey: string): number };

const tooManyFailures = (window: WindowState) =>
  new AppError('rate_limited', {
    detail: `Too many requests with invalid credentials from this address; retry in ${window.resetS} s`,
    headers: rateLimitHeaders([window], true),
  });

/** Hashed so the table holds no email addresses and every key fits its 255 characters. */
const emailKey = (email: string) =>
  createHash('sha256').update(email.trim().toLowerCase()).digest('base64url');

/**
 * API.md's rate-limit policies, counted in Postgres so every instance shares them. A key over its limit
 * is remembered in memory until its window ends, so a flood of rejected requests costs no round trips.
 */
export function createRateLimits(deps: { config: Config; databaseUrl: string; logger: Logger }) {
  const settings = deps.config.rateLimits;
  const pool = createLimiterPool(deps.databaseUrl, settings.poolMax);
  const fallback = fallbackRecorder(deps.logger);
  let cleanupOwner = true;

  /** One window of a policy; its rows are keyed `keyPrefix:key` in the shared table. */
  const limiter = (
    policy: string,
    rate: { points: number; windowS: number },
    { keyPrefix = policy, blockInMemory = true } = {},
  ) => {
    const options: IRateLimiterStoreOptions & { clearExpiredByTimeout: boolean } = {
      storeClient: pool.client,
      storeType: 'pool',
      tableName: 'rate_limits',
      tableCreated: true,
      keyPrefix,
      points: rate.points,
      duration: rate.windowS,
      inMemoryBlockOnConsumed: blockInMemory ? rate.points : 0,
      // One limiter deletes long-expired rows of the shared table; the others need not.
      clearExpiredByTimeout: cleanupOwner,
      insuranceLimiter: new InsuranceLimiter(
        { points: rate.points, duration: rate.windowS, keyPrefix },
        fallback.record,
      ),
    };
    cleanupOwner = false;
    return { policy, rate, limiter: new RateLimiterPostgres(options) };
  };

  // `burst b` of `n/w`: at most b back-to-back, refilled at the sustained rate (b per b·w/n seconds).
  const burstOf = (rate: Rate) => ({
    points: rate.burst!,
    windowS: (rate.burst! * rate.windowS) / rate.points,
  });
  const apiKey = Object.fromEntries(
    (Object.entries(settings.apiKey) as [Tier, Rate][]).map(([tier, rate]) => [
      tier,
      [
        limiter('api_key', rate, { keyPrefix: `api_key:${tier}` }),
        ...(rate.burst
          ? [limiter('api_key_burst', burstOf(rate), { keyPrefix: `api_key_burst:${tier}` })]
          : []),
      ],
    ]),
  ) as Record<Tier, ReturnType<typeof limiter>[]>;
  const single = {
    login: [limiter('login', settings.login)],
    register: [limiter('register', settings.register)],
    password_reset: [limiter('password_reset', settings.passwordReset)],
    account: [limiter('account', settings.account)],
  };
  const authFailures = limiter('auth_failures', settings.authFailures);
  // Its lock-out lives in the table (`block`), where a successful login can clear it on every instance.
  const failures = limiter('login_failures', settings.loginFailures, { blockInMemory: false });

  const limitersOf = (policy: PolicyName, tier: Tier) =>
    policy === 'api_key' ? apiKey[tier] : single[policy];

  return {
    enabled: settings.enabled,

    /** Counts one request of `key` against every window of `policy` (in parallel: one round trip each). */
    async consume(policy: PolicyName, key: string, tier: Tier = 'free'): Promise<Decision> {
      const limiters = limitersOf(policy, tier);
      const outcomes = await Promise.all(limiters.map(({ limiter }) => settle(limiter, key)));
      return {
        allowed: outcomes.every((outcome) => outcome.allowed),
        windows: outcomes.map((outcome, i) =>
          windowOf(limiters[i]!.policy, limiters[i]!.rate, outcome.res, outcome.allowed),
        ),
      };
    },

    /** `login_failures`: consecutive failed logins per normalised email, across every client IP. */
    loginFailures: {
      /** Throws 429 while the email is locked out. */
      async assertNotLocked(email: string): Promise<void> {
        if (!settings.enabled) return;
        const res = await failures.limiter.get(emailKey(email));
        const locked = res !== null && res.consumedPoints >= failures.rate.points;
        rateLimitDecisions.inc({ policy: 'login_failures', outcome: locked ? 'rejected' : 'allowed' });
        if (!res || !locked) return;
        const window = windowOf(failures.policy, failures.rate, res, false);
        throw new AppError('rate_limited', {
          detail: `Too many failed logins for this account; retry in ${window.resetS} s`,
          headers: rateLimitHeaders([window], true),
        });
      },
      /** Counts a failure; the one that reaches the limit locks the email for the lock-out time. */
      async recordFailure(email: string): Promise<void> {
        if (!settings.enabled) return;
        const key = emailKey(email);
        const { res } = await settle(failures.limiter, key);
        if (res.consumedPoints >= failures.rate.points) {
          await failures.limiter.block(key, settings.loginFailures.lockoutS);
        }
      },
      async reset(email: string): Promise<void> {
        if (!settings.enabled) return;
        await failures.limiter.delete(emailKey(email));
      },
    },

    /**
     * `auth_failures`: invalid credentials per client address on authenticated routes. Only failures are
     * written; an address over the limit is refused from this instance's memory before any lookup.
     */
    authFailures: {
      assertNotBlocked(key: string): void {
        if (!settings.enabled) return;
        const limiter = authFailures.limiter as unknown as InMemoryBlocks & RateLimiterPostgres;
        const ms = limiter.getInMemoryBlockMsBeforeExpire(limiter.getKey(key));
        if (ms > 0) rateLimitDecisions.inc({ policy: 'auth_failures', outcome: 'rejected' });
        if (ms > 0)
          throw tooManyFailures(
            windowOf(authFailures.policy, authFailures.rate, new RateLimiterRes(0, ms), false),
          );
      },
      async recordFailure(key: string): Promise<void> {
        if (!settings.enabled) return;
        const { allowed, res } = await settle(authFailures.limiter, key);
        rateLimitDecisions.inc({ policy: 'auth_failures', outcome: allowed ? 'allowed' : 'rejected' });
        if (!allowed) throw tooManyFailures(windowOf(authFailures.policy, authFailures.rate, res, false));
      },
    },

    /** Decisions the in-memory insurance made while Postgres was unreachable (a metric later). */
    get fallbackDecisions() {
      return fallback.total;
    },

    close: () => pool.close(),
  };
}

export type RateLimits = ReturnType<typeof createRateLimits>;

const item = (name: string, params: Record<string, number>) =>
  `"${name}"${Object.entries(params)
    .map(([key, value]) => `;${key}=${value}`)
    .join('')}`;

/**
 * IETF `RateLimit-Policy` / `RateLimit` (structured fields, `t` in seconds) and the de-facto
 * `X-RateLimit-*` of the most constraining window; `Retry-After` when the request was refused.
 */
export function rateLimitHeaders(windows: WindowState[], refused: boolean): Record<string, string> {
  const tightest = windows.reduce((a, b) =>
    b.remaining < a.remaining || (b.remaining === a.remaining && b.resetS > a.resetS) ? b : a,
  );
  const headers: Record<string, string> = {
    'RateLimit-Policy': windows
      .map((w) => item(w.policy, { q: w.limit, w: Math.ceil(w.windowS) }))
      .join(', '),
    RateLimit: windows.map((w) => item(w.policy, { r: w.remaining, t: w.resetS })).join(', '),
    'X-RateLimit-Limit': String(tightest.limit),
    'X-RateLimit-Remaining': String(tightest.remaining),
    'X-RateLimit-Reset': String(tightest.resetS),
  };
  if (refused) {
    const exhausted = windows.filter((w) => w.remaining === 0);
    headers['Retry-After'] = String(Math.max(1, ...exhausted.map((w) => w.resetS)));
  }
  return headers;
}
