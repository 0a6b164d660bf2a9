// Log lines and audit events carry the ids customers quote (`usr_…`, `key_…`, `doc_…`), and a 429's
// access line names the policy that refused it.
import { beforeAll, describe, expect, it } from 'vitest';
import { api, type Json, PASSWORD, uniqueEmail } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

let server: TestServer;
let client: ReturnType<typeof api>;

beforeAll(async () => {
  server = await startTestServer({ env: { RATE_LIMIT_REGISTER: '2/1h' } });
  client = api(server);
});

const accessLine = (requestId: string) =>
  server.logs.lines.find((line) => line.request_id === requestId && line.msg === 'request');

describe('ids in logs', () => {
  it('an API-key request logs usr_ and key_ ids; the audit event of a key shows key_', async () => {
    const session = await client.signUp();
    const created = await client.call('POST', '/v1/api-keys', {
      token: session.accessToken,
      body: { name: 'logged' },
    });
    const key = created.body as Json;
    await client.call('GET', '/v1/me', { token: key.key, headers: { 'x-request-id': 'ids-1' } });
    expect(accessLine('ids-1')).toMatchObject({ user_id: session.user.id, api_key_id: key.id });
    expect(JSON.stringify(server.logs.raw)).not.toMatch(
      /"user_id":"[0-9a-f]{8}-|"api_key_id":"[0-9a-f]{8}-|"document_id":"[0-9a-f]{8}-/,
    );
  });

  it('a 429 access line names the policy that refused it', async () => {
    const body = () => ({ email: uniqueEmail('limited'), password: PASSWORD });
    let refused: Awaited<ReturnType<typeof client.call>> | undefined;
    for (let i = 0; i < 3 && !refused; i++) {
      const response = await client.call('POST', '/v1/auth/register', {
        body: body(),
        headers: { 'x-request-id': `reg-${i}` },
      });
      if (response.status === 429) refused = response;
    }
    expect(refused?.body?.code).toBe('rate_limited');
    const line = accessLine(refused!.headers.get('x-request-id')!);
    expect(line).toMatchObject({ status: 429, ratelimit_policy: 'register' });
  });
});
