/**
 * GET /tasks `filters`, as OpenHIM's getTasks and its console send them: `status`, `user` and
 * `created` (`{$gte, $lte}`, an object or a JSON string). Checked at the edge like the
 * transaction filters: an unknown filter or operator is a 400, not a list of everything.
 */
import { badRequest } from '../errors.js';
import { asJson, filterValues, filtersObject, instantRange } from './query-filters.js';

const TASK_STATUSES = ['Queued', 'Processing', 'Paused', 'Cancelled', 'Completed', 'Pending Async'] as const;
const TASK_FILTERS = ['status', 'user', 'created'];

export interface TaskFilters {
  status?: string[];
  user?: string[];
  from?: string;
  to?: string;
}

export function parseTaskFilters(raw: string | undefined): TaskFilters {
  if (raw === undefined || raw === '') return {};
  const out: TaskFilters = {};
  for (const [key, value] of Object.entries(filtersObject(raw))) {
    if (key === 'status') {
      out.status = filterValues(value, 'status', 100, 200);
      const unknown = out.status.find((s) => !(TASK_STATUSES as readonly string[]).includes(s));
      if (unknown !== undefined) throw badRequest(`filter status "${unknown.slice(0, 40)}" is not a task status`, `use ${TASK_STATUSES.join(', ')}`);
    } else if (key === 'user') {
      out.user = filterValues(value, 'user', 100, 200);
    } else if (key === 'created') {
      const { from, to } = instantRange(asJson(value), 'filter created');
      if (from) out.from = from;
      if (to) out.to = to;
    } else {
      throw badRequest(`unknown task filter "${key.slice(0, 60)}"`, `use ${TASK_FILTERS.join(', ')}`);
    }
  }
  return out;
}

/** The WHERE clause on iol.tasks (status and created are columns; the user is in the document). */
export function taskWhere(f: TaskFilters): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const add = (clause: (p: string) => string, value: unknown) => {
    params.push(value);
    clauses.push(clause(`$${params.length}`));
  };
  if (f.status) add((p) => `status = ANY(${p}::text[])`, f.status);
  if (f.user) add((p) => `(doc->>'user') = ANY(${p}::text[])`, f.user);
  if (f.from) add((p) => `created >= ${p}::timestamptz`, f.from);
  if (f.to) add((p) => `created <= ${p}::timestamptz`, f.to);
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}
