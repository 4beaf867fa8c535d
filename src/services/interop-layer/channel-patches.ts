/**
 * A channel's audit trail as OpenHIM keeps it (mongoose-patch-audit's ChannelAudits, served by
 * GET /channels/:id/audits): each change is a JSON Patch (RFC 6902) from the channel as it was
 * to the channel as saved, with who saved it. Route passwords never appear: an op that sets one
 * carries the mask.
 */
import type { Channel } from './models.js';
import { PASSWORD_MASK } from './validation.js';

export interface PatchOp {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

export interface ChannelPatch {
  _id: string;
  /** The channel's _id. */
  ref: string;
  ops: PatchOp[];
  date: string;
  updatedBy: { id?: string | undefined; name?: string | undefined };
}

/** The ops that turn `before` into `after` (an empty `before` for a new channel); updatedBy is not a change of its own. */
export function channelPatchOps(before: Partial<Channel>, after: Channel): PatchOp[] {
  const { updatedBy: _b, ...from } = before;
  const { updatedBy: _a, ...to } = after;
  return diff(from, to, '').map(maskPasswordOp);
}

function maskPasswordOp(op: PatchOp): PatchOp {
  if (!/^\/routes(\/\d+)?(\/password)?$/.test(op.path) || op.value === undefined) return op;
  if (op.path.endsWith('/password')) return { ...op, value: PASSWORD_MASK };
  // A whole route (or list of routes) added or replaced: its password masked.
  const mask = (route: unknown) => (route && typeof route === 'object' && 'password' in route ? { ...route, password: PASSWORD_MASK } : route);
  return { ...op, value: Array.isArray(op.value) ? op.value.map(mask) : mask(op.value) };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** Objects and arrays compared member by member (arrays by index), as fast-json-patch's compare does. */
function diff(before: unknown, after: unknown, path: string): PatchOp[] {
  if (isObject(before) && isObject(after) && Array.isArray(before) === Array.isArray(after)) {
    const ops: PatchOp[] = [];
    const beforeKeys = Object.keys(before);
    // Removals from the end first, so the indexes of an array's earlier items stay right.
    for (const key of [...beforeKeys].reverse()) {
      if (after[key] === undefined && before[key] !== undefined) ops.push({ op: 'remove', path: `${path}/${escape(key)}` });
    }
    for (const key of beforeKeys) {
      if (before[key] !== undefined && after[key] !== undefined) ops.push(...diff(before[key], after[key], `${path}/${escape(key)}`));
    }
    for (const key of Object.keys(after)) {
      if (before[key] === undefined && after[key] !== undefined) ops.push({ op: 'add', path: `${path}/${escape(key)}`, value: after[key] });
    }
    return ops;
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ op: 'replace', path, value: after }];
}
