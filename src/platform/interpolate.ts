import { InstantError } from '../common/errors.js';

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
/**
 * A whole-string placeholder with a type: "${PORT:number}" becomes the number 8080, and
 * "${HOSTS:list}" the array of its comma-separated values ("" is the empty list).
 */
const TYPED = /^\$\{([A-Za-z_][A-Za-z0-9_]*):(number|boolean|list)\}$/;

function lookup(vars: Record<string, string>, name: string, origin: string): string {
  const value = vars[name];
  if (value === undefined) {
    throw new InstantError('INSTANT_SETTING_MISSING', `${origin} uses \${${name}}, which is not set`, `set it with -e ${name}=... or declare it in a package's environmentVariables`);
  }
  return value;
}

/** Replaces ${NAME} in every string of a JSON value with the named setting. */
export function interpolate<T>(value: T, vars: Record<string, string>, origin: string): T {
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') {
      const typed = TYPED.exec(node);
      if (typed) {
        const raw = lookup(vars, typed[1]!, origin);
        if (typed[2] === 'boolean') return raw === 'true';
        if (typed[2] === 'list') return raw.split(',').map((item) => item.trim()).filter(Boolean);
        const number = Number(raw);
        if (raw.trim() === '' || !Number.isFinite(number)) {
          throw new InstantError('INSTANT_SETTING_INVALID', `${origin} needs ${typed[1]} to be a number, not "${raw}"`);
        }
        return number;
      }
      return node.replace(PLACEHOLDER, (_match, name: string) => lookup(vars, name, origin));
    }
    if (Array.isArray(node)) return node.map(walk);
    if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
    return node;
  };
  return walk(value) as T;
}
