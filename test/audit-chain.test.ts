// The chain is extended inside Postgres (audit_append, migration 0007) from the canonical JSON the API
// sends in two pieces; verifyChain recomputes every hash in JavaScript. These must agree for any content,
// and concurrent writers must still form one unbroken chain in `seq` order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/db/client.ts';
import { type AuditEvent, createAuditService } from '../src/modules/audit/audit.service.ts';
import { startTestServer, type TestServer } from './support/harness.ts';

let server: TestServer;
let database: ReturnType<typeof createDatabase>;

beforeAll(async () => {
  server = await startTestServer();
  database = createDatabase({ ...server.config.database, url: server.config.database.url! });
});

afterAll(() => database.close());

describe('audit chain built in the database', () => {
  it('hashes exactly what verifyChain recomputes, whatever the content, under 40 concurrent writers', async () => {
    const audit = createAuditService(database.db);
    const [user] = await database.sql<{ id: string }[]>`select id from users limit 1`;
    const tricky: AuditEvent[] = [
      // A nested `prevHash` (data is the only field that can hold one) must not be taken for the link.
      { type: 'admin.user_updated', data: { prevHash: 'x'.repeat(64), nested: { prevHash: '"' } } },
      { type: 'admin.user_updated', data: { text: 'é 履歴書 😀 \u2028 "quoted" \\ back', n: 1e21, f: 0.1 } },
      { type: 'auth.login_failed', requestId: 'req "with" quotes \\', clientIp: '2001:db8::1' },
      { type: 'document.created', target: { type: 'document', id: 'd' }, data: {} },
      { type: 'auth.logout', actorId: user?.id, data: { list: [3, 'two', null, { a: true }] } },
    ];
    const before = await audit.verifyChain();
    expect(before.ok).toBe(true);
    const events = Array.from({ length: 40 }, (_, i) => tricky[i % tricky.length]!);
    await Promise.all(events.map((event) => audit.recordAlone(event)));

    const after = await audit.verifyChain();
    expect(after).toEqual({ ok: true, checked: (before.ok ? before.checked : 0) + 40 });
    // One chain: every row links to the row before it in seq order.
    const broken = await database.sql`
      select seq from (select seq, prev_hash, lag(hash) over (order by seq) as previous from audit_events) t
      where previous is not null and prev_hash <> previous`;
    expect(broken).toHaveLength(0);
  });
});
