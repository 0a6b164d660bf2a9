// Product counters whose outcome is the result of one awaited call: the seams wrap the call.
import { AppError } from '../platform/problem.ts';
import { authAttempts, quotaRejections, uploadBytes, uploads } from './metrics.ts';

export type AuthMethod = 'password' | 'refresh' | 'session' | 'api_key';

const authOutcome = (error: unknown) => {
  if (!(error instanceof AppError)) return 'error';
  if (error.code === 'account_disabled') return 'disabled';
  if (error.code === 'rate_limited') return 'locked';
  return error.status >= 500 ? 'error' : 'failure';
};

/** Counts one authentication attempt by its result. */
export async function countAuth<T>(method: AuthMethod, attempt: Promise<T>): Promise<T> {
  try {
    const result = await attempt;
    authAttempts.inc({ method, outcome: 'success' });
    return result;
  } catch (error) {
    authAttempts.inc({ method, outcome: authOutcome(error) });
    throw error;
  }
}

/** `Bearer sk_…` is an API key; any other bearer token a session's access token. */
export const bearerMethod = (authorization: string | undefined): AuthMethod =>
  /^bearer\s+sk_/i.test(authorization ?? '') ? 'api_key' : 'session';

const UPLOAD_OUTCOMES: Record<string, string> = {
  payload_too_large: 'too_large',
  quota_exceeded: 'quota_exceeded',
  unsupported_media_type: 'unsupported_type',
  validation_failed: 'invalid',
  bad_request: 'invalid',
};

/** Counts one upload by its result, and the bytes it stored. */
export async function countUpload<T extends { sizeBytes: number | null }>(
  upload: Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  try {
    const row = await upload;
    uploads.inc({ outcome: 'stored' });
    uploadBytes.inc(row.sizeBytes ?? 0);
    return row;
  } catch (error) {
    const outcome = signal.aborted
      ? 'aborted'
      : error instanceof AppError
        ? (UPLOAD_OUTCOMES[error.code] ?? 'failed')
        : 'failed';
    uploads.inc({ outcome });
    if (outcome === 'quota_exceeded') quotaRejections.inc();
    throw error;
  }
}
