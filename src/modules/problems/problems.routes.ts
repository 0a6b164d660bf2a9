import { z } from '@hono/zod-openapi';
import { defineRoute } from '../../platform/openapi.ts';

export const getProblemRoute = defineRoute({
  method: 'get',
  path: '/problems/{code}',
  tags: ['Problems'],
  operationId: 'getProblem',
  summary: 'Describe an error code',
  description: 'The page every problem `type` URI points to: what the code means and how to react to it.',
  request: {
    params: z.object({
      code: z
        .string()
        .regex(/^[a-z_]{1,64}$/, 'must be lowercase letters and underscores')
        .meta({ example: 'validation_failed' }),
    }),
  },
  responses: {
    200: {
      description: 'An HTML page describing the code.',
      content: { 'text/html': { schema: z.string() } },
    },
  },
});
