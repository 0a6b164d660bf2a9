// A public id the pattern admits but that is no UUID (wrong version/variant bits) is refused as invalid
// input everywhere, never handed to a handler that cannot decode it (found by the fuzzer: a 500 on
// POST /v1/exports).
import { beforeAll, describe, expect, it } from 'vitest';
import { api, type Session } from './support/api.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

const NOT_A_UUID = 'doc_2kkpxax37nkptjgh2s7bnjtnmm';
let server: TestServer;
let session: Session;

beforeAll(async () => {
  server = await startTestServer();
  session = await api(server).signUp('ids');
});

describe('public ids', () => {
  it('an id of the right shape that is no UUID is 422 in a body and in a path', async () => {
    const client = api(server);
    const exported = await client.call('POST', '/v1/exports', {
      token: session.accessToken,
      body: { document_ids: [NOT_A_UUID] },
    });
    expect([exported.status, exported.body?.code]).toEqual([422, 'validation_failed']);
    expect(exported.body?.errors?.[0]).toMatchObject({ location: 'body', path: 'document_ids.0' });
    const fetched = await client.call('GET', `/v1/documents/${NOT_A_UUID}`, { token: session.accessToken });
    expect([fetched.status, fetched.body?.code]).toEqual([422, 'validation_failed']);
  });
});
