import { z } from '@hono/zod-openapi';
import { defineRoute, jsonBody } from '../../platform/openapi.ts';
import { authenticated, SESSION_ONLY, SESSION_OR_KEY } from '../auth/authenticate.ts';
import { nameSchema, passwordSchema, userSchema } from './users.schemas.ts';

const userResponse = { content: { 'application/json': { schema: userSchema } } };

export const getMeRoute = defineRoute({
  method: 'get',
  path: '/v1/me',
  tags: ['Account'],
  operationId: 'getMe',
  summary: 'The signed-in account, with its quota and usage',
  description:
    '`bytes_used` never exceeds `quota_bytes`; an upload that would pass it answers 413 `quota_exceeded`.',
  security: SESSION_OR_KEY,
  middleware: [...authenticated()] as const,
  responses: { 200: { description: 'The account', ...userResponse } },
});

export const updateMeRoute = defineRoute({
  method: 'patch',
  path: '/v1/me',
  tags: ['Account'],
  operationId: 'updateMe',
  summary: 'Rename the account',
  description: '`name: null` removes the name.',
  security: SESSION_OR_KEY,
  middleware: [...authenticated()] as const,
  request: {
    body: jsonBody(z.object({ name: nameSchema.nullable() })),
  },
  responses: { 200: { description: 'The updated account', ...userResponse } },
});

export const changePasswordRoute = defineRoute({
  method: 'post',
  path: '/v1/me/password',
  tags: ['Account'],
  operationId: 'changePassword',
  summary: 'Change the password; every other session is revoked',
  description:
    'Needs a session (not an API key) and the current password. Every other session and every outstanding ' +
    'reset token of the account end. A wrong `current_password` is 422 and counts as a failed login ' +
    '(`login_failures`, `login_failures_email`): too many give 429.',
  security: SESSION_ONLY,
  middleware: [...authenticated({ sessionOnly: true })] as const,
  request: {
    body: jsonBody(z.object({ current_password: z.string().min(1).max(128), password: passwordSchema })),
  },
  responses: { 204: { description: 'Changed' } },
});
