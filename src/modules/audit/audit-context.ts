import type { VariablesOf } from '../../platform/app-env.ts';
import type { AuditContext } from './audit.service.ts';

/** Actor, client IP and request id of the current request, for the audit row it causes. */
export const auditContextOf = (c: VariablesOf): AuditContext => ({
  actorId: c.get('principal')?.userId,
  clientIp: c.get('clientIp'),
  requestId: c.get('requestId'),
});
