// Routes that exercise the contract machinery before the product endpoints exist: every input location
// validated, a handler that throws, a response that fails its own schema, a slow request.
import { setTimeout as sleep } from 'node:timers/promises';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { ApiModule } from '../../src/app.ts';
import type { AppEnv } from '../../src/platform/app-env.ts';
import { defineRoute } from '../../src/platform/openapi.ts';

const itemSchema = z.object({
  id: z.string(),
  name: z.string(),
  tags: z.array(z.string()),
  limit: z.number(),
});

const createItem = defineRoute({
  method: 'post',
  path: '/probe/items/{id}',
  request: {
    params: z.object({ id: z.string().regex(/^itm_[a-z0-9]{4,}$/) }),
    query: z.object({ limit: z.coerce.number().int().min(1).max(100) }),
    headers: z.object({ 'x-probe': z.string().min(3) }),
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z.object({ name: z.string().min(1), tags: z.array(z.string()).max(3).default([]) }),
        },
      },
    },
  },
  responses: { 201: { description: 'created', content: { 'application/json': { schema: itemSchema } } } },
});

const boom = defineRoute({
  method: 'get',
  path: '/probe/boom',
  responses: { 200: { description: 'never' } },
});

const badResponse = defineRoute({
  method: 'get',
  path: '/probe/bad-response',
  responses: { 200: { description: 'never', content: { 'application/json': { schema: itemSchema } } } },
});

const slow = defineRoute({
  method: 'get',
  path: '/probe/slow',
  request: { query: z.object({ ms: z.coerce.number().int().min(0).max(60_000) }) },
  responses: {
    200: {
      description: 'slept',
      content: { 'application/json': { schema: z.object({ slept_ms: z.number() }) } },
    },
  },
});

/** What the probe routes saw; tests running the server in-process read it. */
export const probeStats = { sleepsAborted: 0 };

const legacy = defineRoute({
  method: 'get',
  path: '/probe/legacy',
  request: { query: z.object({ n: z.coerce.number().int() }) },
  responses: {
    200: {
      description: 'still works',
      content: { 'application/json': { schema: z.object({ n: z.number() }) } },
    },
  },
  deprecation: {
    since: new Date('2026-01-01T00:00:00Z'),
    sunset: new Date('2027-06-30T00:00:00Z'),
    link: 'https://api.stowage.test/docs/migrations/legacy',
  },
});

export const probeModule = (): ApiModule => ({
  path: '/',
  app: new OpenAPIHono<AppEnv>()
    .openapi(createItem, (c) => {
      const { id } = c.req.valid('param');
      const { limit } = c.req.valid('query');
      const body = c.req.valid('json');
      return c.json({ id, name: body.name, tags: body.tags, limit }, 201);
    })
    .openapi(boom, () => {
      throw new Error('kaboom: connection to db-internal.corp:5432 failed for user admin');
    })
    .openapi(badResponse, (c) => c.json(itemSchema.parse({ id: 42, name: null }), 200))
    .openapi(legacy, (c) => c.json({ n: c.req.valid('query').n }, 200))
    .openapi(slow, async (c) => {
      const { ms } = c.req.valid('query');
      // Like real work, it stops when the handler timeout or a client disconnect aborts the signal.
      try {
        await sleep(ms, undefined, { signal: c.get('signal') });
      } catch (error) {
        probeStats.sleepsAborted++;
        throw error;
      }
      return c.json({ slept_ms: ms }, 200);
    }),
});
