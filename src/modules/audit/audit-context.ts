import type { AppEnv } from '../../platform/app-env.ts';
import type { AuditContext } from './audit.service.ts';

/** Actor, client IP and request id of the current request, for the audit row it causes. */
export const auditContextOf = (c: { var: AppEnv['Variables'] }): AuditContext => ({
  actorId: c.var.principal?.userId,
  clientIp: c.var.clientIp,
  requestId: c.var.requestId,
});
