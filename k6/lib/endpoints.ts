// Every request the suite sends carries one of these as its `endpoint` tag: per-endpoint thresholds,
// per-endpoint rows in the summary. Error paths keep the tag of the route they hit.

export const E = {
  livez: 'GET /livez',
  readyz: 'GET /readyz',
  startupz: 'GET /startupz',
  openapi: 'GET /openapi.json',
  jwks: 'GET /.well-known/jwks.json',
  register: 'POST /v1/auth/register',
  login: 'POST /v1/auth/login',
  refresh: 'POST /v1/auth/refresh',
  logout: 'POST /v1/auth/logout',
  passwordReset: 'POST /v1/auth/password-reset',
  me: 'GET /v1/me',
  updateMe: 'PATCH /v1/me',
  createKey: 'POST /v1/api-keys',
  listKeys: 'GET /v1/api-keys',
  deleteKey: 'DELETE /v1/api-keys/{id}',
  upload: 'POST /v1/documents',
  list: 'GET /v1/documents',
  get: 'GET /v1/documents/{id}',
  download: 'GET /v1/documents/{id}/content',
  updateDoc: 'PATCH /v1/documents/{id}',
  deleteDoc: 'DELETE /v1/documents/{id}',
  adminUsers: 'GET /v1/admin/users',
  adminUpdateUser: 'PATCH /v1/admin/users/{id}',
  adminAudit: 'GET /v1/admin/audit-events',
  adminMode: 'GET /v1/admin/runtime-mode',
  unknownRoute: 'GET /v1/{unknown}',
  wrongMethod: 'DELETE /v1/me',
} as const;

export type Endpoint = (typeof E)[keyof typeof E];

/** Endpoints only an admin can call: smoke covers them when BOOTSTRAP_ADMIN_* are given. */
export const ADMIN_ENDPOINTS: readonly Endpoint[] = [
  E.adminUsers,
  E.adminUpdateUser,
  E.adminAudit,
  E.adminMode,
];

/** The endpoints a script's source tags its requests with (`E.list` → `GET /v1/documents`). */
export function endpointsIn(source: string): Endpoint[] {
  const keys = [...source.matchAll(/\bE\.([A-Za-z]+)\b/g)].map((match) => match[1]!);
  const unknown = keys.filter((key) => !(key in E));
  if (unknown.length > 0) throw new Error(`unknown endpoint keys: ${unknown.join(', ')}`);
  return [...new Set(keys.map((key) => E[key as keyof typeof E]))];
}
