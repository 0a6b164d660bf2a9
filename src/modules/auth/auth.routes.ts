import { z } from '@hono/zod-openapi';
import { defineRoute, jsonBody } from '../../platform/openapi.ts';
import { rateLimit } from '../../platform/rate-limit/rate-limit.middleware.ts';
import { emailSchema, nameSchema, passwordSchema, userSchema } from '../users/users.schemas.ts';

// Credentials are a few hundred bytes; anything larger is not a login, so it is refused before parsing.
const CREDENTIALS_BODY_BYTES = 4096;

export const REFRESH_COOKIE_DOC =
  'Refresh token in cookie `__Host-stowage_refresh` (HttpOnly, Secure, SameSite=Strict, Path=/, 30 days), rotated on every use.';

const sessionSchema = z
  .object({
    access_token: z.string().meta({ description: 'JWT (RFC 9068), 15 minutes' }),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int().meta({ example: 900 }),
    user: userSchema,
  })
  .meta({ id: 'Session' });

const issuedResponse = (description: string) => ({
  description,
  headers: { 'Set-Cookie': { description: REFRESH_COOKIE_DOC, schema: { type: 'string' as const } } },
  content: { 'application/json': { schema: sessionSchema } },
});

export const registerRoute = defineRoute({
  method: 'post',
  path: '/v1/auth/register',
  maxBodyBytes: CREDENTIALS_BODY_BYTES,
  middleware: [rateLimit('register')] as const,
  tags: ['Auth'],
  operationId: 'register',
  summary: 'Create an account',
  description:
    'Creates an account on the free tier; sign in with `POST /v1/auth/login` afterwards. An email that already ' +
    'has an account answers 409 `email_taken`.',
  request: {
    body: jsonBody(z.object({ email: emailSchema, password: passwordSchema, name: nameSchema.optional() })),
  },
  responses: {
    201: {
      description: 'Created',
      content: { 'application/json': { schema: z.object({ user: userSchema }) } },
    },
  },
  extraProblems: ['email_taken'],
});

export const loginRoute = defineRoute({
  method: 'post',
  path: '/v1/auth/login',
  maxBodyBytes: CREDENTIALS_BODY_BYTES,
  middleware: [rateLimit('login')] as const,
  tags: ['Auth'],
  operationId: 'login',
  summary: 'Sign in',
  description:
    'An unknown email and a wrong password get the same 401 `invalid_credentials`, in about the same time.',
  request: { body: jsonBody(z.object({ email: emailSchema, password: z.string().min(1).max(128) })) },
  responses: { 200: issuedResponse('Signed in') },
  extraProblems: ['invalid_credentials', 'account_disabled'],
});

export const refreshRoute = defineRoute({
  method: 'post',
  path: '/v1/auth/refresh',
  middleware: [rateLimit('login')] as const,
  tags: ['Auth'],
  operationId: 'refresh',
  summary: 'Rotate the refresh cookie and get a new access token',
  security: [{ refreshCookie: [] }],
  description:
    'Rotation is atomic: of concurrent refreshes with one cookie exactly one rotates it. The others, and any ' +
    'retry within `REFRESH_REUSE_GRACE_S` (default 30 s) of the rotation, get the same new cookie while it ' +
    'is unused (a grace period, as Okta and Auth0 have). Presenting a used token later, or after its ' +
    'successor was used, revokes the whole session (`refresh_token_reused`). ' +
    'Refused when an `Origin` header is present and not allowed.',
  responses: { 200: issuedResponse('Rotated') },
  extraProblems: ['unauthenticated', 'refresh_token_reused', 'forbidden', 'account_disabled'],
});

export const logoutRoute = defineRoute({
  method: 'post',
  path: '/v1/auth/logout',
  middleware: [rateLimit('login')] as const,
  tags: ['Auth'],
  operationId: 'logout',
  summary: 'End the session of the refresh cookie',
  description:
    'Revokes the session (its whole token family) and clears the cookie. Without a cookie it still answers 204.',
  security: [{ refreshCookie: [] }],
  responses: {
    204: {
      description: 'Signed out; the cookie is cleared and the session revoked',
      headers: {
        'Set-Cookie': {
          description: 'Clears `__Host-stowage_refresh` (`Max-Age=0`).',
          schema: { type: 'string' as const },
        },
      },
    },
  },
  extraProblems: ['forbidden'],
});

export const passwordResetRoute = defineRoute({
  method: 'post',
  path: '/v1/auth/password-reset',
  maxBodyBytes: CREDENTIALS_BODY_BYTES,
  middleware: [rateLimit('password_reset')] as const,
  tags: ['Auth'],
  operationId: 'requestPasswordReset',
  summary: 'Mail a password reset token',
  description:
    'Always 202, answered before any work, so neither the answer nor its timing depends on the email ' +
    'having an account.',
  request: { body: jsonBody(z.object({ email: emailSchema })) },
  responses: { 202: { description: 'Accepted' } },
});

export const passwordResetConfirmRoute = defineRoute({
  method: 'post',
  path: '/v1/auth/password-reset/confirm',
  maxBodyBytes: CREDENTIALS_BODY_BYTES,
  middleware: [rateLimit('password_reset')] as const,
  tags: ['Auth'],
  operationId: 'confirmPasswordReset',
  summary: 'Set a new password with a reset token',
  description:
    'The token is single-use and valid 30 minutes; every session of the account is revoked, and every ' +
    'other outstanding reset token of the account is spent.',
  request: { body: jsonBody(z.object({ token: z.string().min(1).max(256), password: passwordSchema })) },
  responses: { 204: { description: 'Password changed' } },
});

export const jwksRoute = defineRoute({
  method: 'get',
  path: '/.well-known/jwks.json',
  tags: ['Auth'],
  operationId: 'jwks',
  summary: 'Public keys that verify access tokens',
  description:
    'The public JWKs (EdDSA or ES256) whose `kid` an access token names; several are served during a key rotation.',
  responses: {
    200: {
      description: 'JWK Set (RFC 7517)',
      content: {
        'application/json': {
          schema: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).meta({ id: 'JWKS' }),
        },
      },
    },
  },
});
