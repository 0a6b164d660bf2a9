// The baseline of the hardening tax: the same document read as GET /v1/documents/{id}, served by a bare
// Hono + postgres.js handler (no auth, limits, logging, headers or validation). Run as its own process.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import postgres from 'postgres';
import { fromPublicId } from '../src/platform/ids.ts';

const sql = postgres(process.env.DATABASE_URL!, { max: 10 });
const userId = process.env.BENCH_USER_ID!;
const app = new Hono();
app.get('/documents/:id', async (c) => {
  const id = fromPublicId('doc', c.req.param('id'));
  const [row] = await sql`select id, name, content_type, size_bytes, sha256, metadata, created_at, updated_at
    from documents where id = ${id!} and user_id = ${userId} and status = 'ready'`;
  return row ? c.json(row) : c.json({ error: 'not found' }, 404);
});
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT) }, (info) =>
  process.stdout.write(`${info.port}\n`),
);
