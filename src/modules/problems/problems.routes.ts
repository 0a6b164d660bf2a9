import { z } from '@hono/zod-openapi';
import { defineRoute } from '../../platform/openapi.ts';

const problemTypeSchema = z
  .object({
    code: z.string().meta({ example: 'validation_failed' }),
    status: z.number().int().meta({ example: 422 }),
    title: z.string().meta({ example: 'Validation failed' }),
    url: z.string().meta({ example: 'https://api.example.com/problems/validation_failed' }),
  })
  .meta({ id: 'ProblemType' });

const problemGuideSchema = problemTypeSchema
  .extend({
    meaning: z.string(),
    causes: z.array(z.string()),
    fix: z.string(),
  })
  .meta({ id: 'ProblemGuide' });

const html = { 'text/html': { schema: z.string() } };

export const listProblemsRoute = defineRoute({
  method: 'get',
  path: '/problems',
  tags: ['Problems'],
  operationId: 'listProblems',
  summary: 'Every error code',
  description:
    'An HTML page listing every `code` the API can answer with, each linking to its page; with ' +
    '`Accept: application/json`, the same list as JSON.',
  responses: {
    200: {
      description: 'The list of problem types.',
      content: { ...html, 'application/json': { schema: z.object({ data: z.array(problemTypeSchema) }) } },
    },
  },
});

export const getProblemRoute = defineRoute({
  method: 'get',
  path: '/problems/{code}',
  tags: ['Problems'],
  operationId: 'getProblem',
  summary: 'Describe an error code',
  description:
    'The page every problem `type` URI points to: what the code means, its typical causes and the fix. ' +
    'With `Accept: application/json`, the same as JSON.',
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
      description: 'The page describing the code.',
      content: { ...html, 'application/json': { schema: problemGuideSchema } },
    },
  },
});
