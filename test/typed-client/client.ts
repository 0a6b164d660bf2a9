// A small integrator's script on the generated types and openapi-fetch: register → login → upload →
// list → download → delete. Type-checked with `schema.ts` (generated) by the test, then run against a
// real server (`BASE_URL`); prints what it saw as JSON.
import createClient from 'openapi-fetch';
import type { paths } from './schema.ts';

const client = createClient<paths>({ baseUrl: process.env.BASE_URL! });
const email = `typed-${Date.now()}@example.com`;
const password = 'correct horse battery staple';

const registered = await client.POST('/v1/auth/register', { body: { email, password } });
if (!registered.data) throw new Error(`register: ${JSON.stringify(registered.error)}`);
const login = await client.POST('/v1/auth/login', { body: { email, password } });
if (!login.data) throw new Error(`login: ${JSON.stringify(login.error)}`);
const token: string = login.data.access_token;
const auth = { Authorization: `Bearer ${token}` };

const bytes = new TextEncoder().encode('%PDF-1.7 typed client\n');
const uploaded = await client.POST('/v1/documents', {
  headers: auth,
  params: { header: {} },
  body: { file: new Blob([bytes], { type: 'application/pdf' }), name: 'typed.pdf' },
  bodySerializer(body) {
    const form = new FormData();
    if (body.name) form.append('name', body.name);
    form.append('file', body.file, 'typed.pdf');
    return form;
  },
});
if (!uploaded.data) throw new Error(`upload: ${JSON.stringify(uploaded.error)}`);
const id: string = uploaded.data.document.id;

const listed = await client.GET('/v1/documents', { headers: auth, params: { query: { limit: 10 } } });
const names = listed.data?.data.map((document) => document.name) ?? [];

const downloaded = await client.GET('/v1/documents/{id}/content', {
  headers: auth,
  params: { path: { id } },
  parseAs: 'arrayBuffer',
});
const content = downloaded.data ? new TextDecoder().decode(downloaded.data as ArrayBuffer) : undefined;

const deleted = await client.DELETE('/v1/documents/{id}', { headers: auth, params: { path: { id } } });
const missing = await client.GET('/v1/documents/{id}', { headers: auth, params: { path: { id } } });
// The error body is the Problem schema: `code` an open string.
const code: string | undefined = missing.error?.code;

console.log(
  JSON.stringify({
    registered: registered.response.status,
    uploaded: uploaded.response.status,
    id,
    names,
    content,
    deleted: deleted.response.status,
    missing: missing.response.status,
    code,
  }),
);
