import type { FastifyRequest } from 'fastify';
import type { IolDeps } from '../deps.js';
import type { AuditAction } from '../store/audits.js';
import { userOf } from './auth.js';

/** Records an admin change (who, what, where) as an AuditEvent. */
export function auditChange(deps: IolDeps, request: FastifyRequest, action: AuditAction, entity: string, success = true, description?: string): void {
  let who: string | undefined;
  try {
    who = userOf(request).email;
  } catch {
    who = undefined;
  }
  deps.audits.record({ kind: 'admin-change', action, success, who, address: request.ip, entity, ...(description ? { description } : {}) });
}
