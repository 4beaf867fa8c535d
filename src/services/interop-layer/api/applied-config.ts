/**
 * What `instant import` (the container targets' one-shot import job) applied to this interop
 * layer, item by item: the job has no database access (least privilege), so it keeps the record
 * applied-config.ts describes here, through the admin API, where the embedded target keeps it in
 * the database directly. Not an OpenHIM route; admins only.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { databaseAppliedConfig } from '../../../platform/importers/applied-config.js';
import type { IolDeps } from '../deps.js';
import { parseBody } from '../validation.js';
import type { ScopedRoutes } from './scopes.js';

export const APPLIED_CONFIG_PATH = '/instant/applied-config';

const name = z.string().min(1).max(500);
const query = z.object({ service: name, item: name, package: name });
const record = query.extend({
  applied: z.object({ given: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 digest in hex'), seen: z.record(z.unknown()) }).strict(),
});

export function appliedConfigRoutes(deps: IolDeps): ScopedRoutes {
  return { admin: (scope) => registerAppliedConfigRoutes(scope, deps) };
}

function registerAppliedConfigRoutes(app: FastifyInstance, deps: IolDeps): void {
  // 200 with `applied: null` when nothing is recorded: a 404 means the route itself is missing
  // (an OpenHIM of its own), which the importer takes as "no record kept".
  app.get(APPLIED_CONFIG_PATH, async (request) => {
    const q = parseBody(query, request.query, 'query');
    const applied = await (await databaseAppliedConfig(deps.db, q.package, q.service)).get(q.item);
    return { applied: applied ?? null };
  });

  app.put(APPLIED_CONFIG_PATH, async (request) => {
    const r = parseBody(record, request.body, 'applied-config record');
    await (await databaseAppliedConfig(deps.db, r.package, r.service)).set(r.item, r.applied);
    return { applied: r.applied };
  });
}
