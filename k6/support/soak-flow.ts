// Soak: the load session for an hour, deleting each upload again so the data stays bounded and what
// the run measures is time, not growth.
import { check, sleep } from 'k6';
import { E } from '../lib/endpoints.ts';
import { sessionIteration } from './session-flow.ts';
import type { SetupData } from './setup.ts';

export function soakIteration(data: SetupData): void {
  sessionIteration(data, {
    soak: true,
    afterDownload: (id, token, call) => {
      const removed = call('DELETE', `/v1/documents/${id}`, E.deleteDoc, { auth: token, expect: [204] });
      check(removed, { 'delete: 204': (r) => r.status === 204 });
      sleep(0.5 + Math.random());
    },
  });
}
