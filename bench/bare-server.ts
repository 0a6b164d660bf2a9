// The baseline of the hardening tax: the same document read as GET /v1/documents/{id}, served by a bare
// Hono + postgres.js handler (no auth, limits, logging, headers or validation). Run as its own process;
// BENCH_WORKERS=2 forks two workers on the port, like the API's WEB_CONCURRENCY=2.
import cluster from 'node:cluster';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import postgres from 'postgres';
import { fromPublicId } from '../src/platform/ids.ts';

const workers = Number(process.env.BENCH_WORKERS ?? 1);
if (cluster.isPrimary && workers > 1) {
  let listening = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().once('listening', () => {
      if (++listening === workers) process.stdout.write(`${process.env.PORT}\n`);
    });
  }
  process.once('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const sql = postgres(process.env.DATABASE_URL!, { max: 10 });
  const userId = process.env.BENCH_USER_ID!;
  const app = new Hono();
  app.get('/documents/:id', async (c) => {
    const id = fromPublicId('doc', c.req.param('id'));
    const [row] =
      await sql`select id, name, content_type, size_bytes, sha256, metadata, created_at, updated_at
      from documents where id = ${id!} and user_id = ${userId} and status = 'ready'`;
    return row ? c.json(row) : c.json({ error: 'not found' }, 404);
  });
  serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT) }, (info) => {
    if (cluster.isPrimary) process.stdout.write(`${info.port}\n`);
  });
}
