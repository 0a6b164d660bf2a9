/**
 * What the `/problems/{code}` pages say beyond PROBLEMS' one-line meaning: the typical causes and the
 * fix, per code. Keyed by string so a code can be documented here before it is added to PROBLEMS; the
 * problems test fails for a code of PROBLEMS without a guide. Backticks mark names (shown as code).
 */
export type ProblemGuide = { causes: string[]; fix: string };

export const PROBLEM_GUIDES: Record<string, ProblemGuide> = {
  bad_request: {
    causes: [
      'The body is not valid JSON (a trailing comma, single quotes, an unescaped newline).',
      'A header is malformed, e.g. an `Idempotency-Key` longer than 255 characters or with control characters.',
      'The connection was closed while the body was still being sent.',
    ],
    fix: 'Check the body with a JSON parser and the headers against the operation in `/docs`; `detail` names what could not be read.',
  },
  unauthenticated: {
    causes: [
      'No `Authorization` header, or not of the form `Bearer <token>`.',
      'The access token expired (they live 15 minutes) or its session was logged out.',
      'The API key was revoked or has expired.',
    ],
    fix: 'Get a new access token with `POST /v1/auth/refresh` (or sign in again with `POST /v1/auth/login`), or use a valid API key, and send it as `Authorization: Bearer <token>`.',
  },
  invalid_credentials: {
    causes: ['The password is wrong.', 'No account has this email (the answer is the same on purpose).'],
    fix: 'Check the email and password. If the password is lost, `POST /v1/auth/password-reset` mails a reset token. Repeated failures lock the email for a while (`rate_limited`).',
  },
  refresh_token_reused: {
    causes: [
      'Two tabs or processes refreshed with the same cookie at once; the second used a token the first had rotated.',
      'A stolen refresh token was used after its owner refreshed.',
    ],
    fix: 'Sign in again with `POST /v1/auth/login`. Refresh from one place at a time and always keep the newest cookie.',
  },
  forbidden: {
    causes: [
      'The operation needs the `admin` role.',
      'The operation needs a session, and an API key was sent (e.g. changing the password or managing keys).',
      'A refresh or logout came with an `Origin` that is not allowed.',
    ],
    fix: 'Use credentials that are allowed this operation (see its security in `/docs`); an administrator can change roles.',
  },
  account_disabled: {
    causes: ['An administrator disabled the account.'],
    fix: 'Contact your administrator; quote the `request_id`.',
  },
  not_found: {
    causes: [
      'The id is mistyped or of another kind (ids carry their kind: `doc_…`, `key_…`, `usr_…`).',
      'The resource was deleted.',
      'The resource belongs to another account (answered as not found, never as forbidden).',
      'The URL matches no operation (a typo in the path, or a missing `/v1`).',
    ],
    fix: 'Check the id and the path against `/docs`; list your resources (e.g. `GET /v1/documents`) to find the current ids.',
  },
  method_not_allowed: {
    causes: ['The path exists but not with this method, e.g. `PUT` where the API uses `PATCH`.'],
    fix: 'Use one of the methods in the `Allow` response header.',
  },
  email_taken: {
    causes: ['An account with this email already exists, perhaps created earlier by you.'],
    fix: 'Sign in with `POST /v1/auth/login`, or reset the password with `POST /v1/auth/password-reset`.',
  },
  idempotency_in_progress: {
    causes: ['A retry was sent while the first request with the same `Idempotency-Key` is still running.'],
    fix: 'Wait `Retry-After` seconds and retry with the same key: you then get the first request’s answer.',
  },
  precondition_failed: {
    causes: [
      'The resource changed since you read it: another client updated or deleted it.',
      'A weak ETag (`W/"…"`) was sent in `If-Match`, which never matches.',
    ],
    fix: 'GET the resource again, reapply your change to the fresh version, and retry with its `ETag` in `If-Match`.',
  },
  request_timeout: {
    causes: ['The client sent headers or body too slowly (a stalled connection or a very slow link).'],
    fix: 'Retry; for large uploads make sure the link can send the file within the server’s request timeout.',
  },
  payload_too_large: {
    causes: [
      'The document is larger than the server’s `MAX_UPLOAD_BYTES` (50 MiB by default).',
      'A JSON body is larger than the operation accepts.',
    ],
    fix: '`detail` gives the limit; send a smaller body (split the document or compress it).',
  },
  quota_exceeded: {
    causes: ['Storing the document would take the account past its `quota_bytes` (see `GET /v1/me`).'],
    fix: 'Delete documents you no longer need, or ask an administrator for a larger quota or tier.',
  },
  unsupported_media_type: {
    causes: [
      'A JSON operation received a body without `Content-Type: application/json`.',
      'An upload was not sent as `multipart/form-data` (use `curl -F file=@name`, not `--data-binary`).',
      'The operator restricted uploads with `ALLOWED_CONTENT_TYPES`, and the file’s type is not listed or its bytes do not match its declared type.',
    ],
    fix: 'Uploads accept any content type unless the operator sets `ALLOWED_CONTENT_TYPES`; then `detail` lists the accepted types. Send JSON bodies with `Content-Type: application/json` and uploads as `multipart/form-data` with a `file` part.',
  },
  range_not_satisfiable: {
    causes: [
      'The `Range` starts at or past the end of the document (e.g. `bytes=5000-` of a 4000-byte file).',
    ],
    fix: 'The `Content-Range: bytes */<size>` header gives the size: ask for a range within it, or send no `Range`.',
  },
  validation_failed: {
    causes: [
      'A required field is missing, or a value has the wrong type, length or format.',
      'A header is malformed, e.g. `If-Match` without the quotes of an ETag.',
    ],
    fix: 'Each entry of `errors[]` names the `location` (body, query, path, header), the `path` and what is wrong; correct those fields.',
  },
  idempotency_key_reused: {
    causes: ['The same `Idempotency-Key` was sent with a different method, path or body within 24 hours.'],
    fix: 'Use a new key for every new request; reuse a key only to retry the identical request.',
  },
  rate_limited: {
    causes: [
      'Too many requests for a policy (`RateLimit-Policy` names them): per account, per API key, per client address for sign-in and registration.',
      'Too many failed logins for one email, which locks it for a while.',
    ],
    fix: 'Wait `Retry-After` seconds. `RateLimit` tells how many requests remain and when the window resets; pace requests to stay within it.',
  },
  headers_too_large: {
    causes: ['The request headers, often cookies, exceed the server’s limit.'],
    fix: 'Send fewer or smaller headers; clear stale cookies for the API’s domain.',
  },
  internal_error: {
    causes: ['A bug on our side; nothing you sent is to blame.'],
    fix: 'Retry later; if it persists, report it with the `request_id`.',
  },
  service_unavailable: {
    causes: ['The database or the document store did not answer in time (an outage or maintenance).'],
    fix: 'Retry after `Retry-After` seconds, with backoff. Nothing was half done: a failed upload stores nothing, a failed delete keeps the document.',
  },
  degraded_mode: {
    causes: [
      'Operators switched the service to degraded mode during an incident; heavy work (exports, bulk admin work) is paused.',
    ],
    fix: 'Retry after `Retry-After` seconds; reads and ordinary writes keep working.',
  },
  read_only_mode: {
    causes: ['Operators switched the service to read-only mode (maintenance or an incident).'],
    fix: 'Retry the write after `Retry-After` seconds; reads keep working meanwhile.',
  },
  overloaded: {
    causes: ['This instance is at its concurrent-request limit.'],
    fix: 'Retry after `Retry-After` seconds with backoff; another instance usually answers.',
  },
  shutting_down: {
    causes: ['The instance that received the request is restarting (a deployment).'],
    fix: 'Retry at once; another instance answers.',
  },
  timeout: {
    causes: ['The request took longer than the server allows (a slow dependency or a very large listing).'],
    fix: 'Retry; if it persists, narrow the request (smaller `limit`, a filter) and report the `request_id`.',
  },
  // Codes of the export jobs (documented ahead of their operations).
  export_in_progress: {
    causes: ['The account already has an export queued or running; one runs at a time.'],
    fix: 'Wait for it (`GET /v1/exports/{id}`) or cancel it (`DELETE /v1/exports/{id}`), then start the new one.',
  },
  export_not_ready: {
    causes: ['The export has not succeeded yet: it is queued, running, failed or canceled.'],
    fix: 'Poll `GET /v1/exports/{id}` until `status` is `succeeded`, then download it.',
  },
  gone: {
    causes: ['The export expired and its file was removed.'],
    fix: 'Start a new export with `POST /v1/exports`.',
  },
};
