import { InstantError } from '../common/errors.js';

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces ${NAME} in every string of a JSON value with the named setting. */
export function interpolate<T>(value: T, vars: Record<string, string>, origin: string): T {
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') {
      return node.replace(PLACEHOLDER, (_match, name: string) => {
        const replacement = vars[name];
        if (replacement === undefined) {
          throw new InstantError('INSTANT_SETTING_MISSING', `${origin} uses \${${name}}, which is not set`, `set it with -e ${name}=... or declare it in a package's environmentVariables`);
        }
        return replacement;
      });
    }
    if (Array.isArray(node)) return node.map(walk);
    if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
    return node;
  };
  return walk(value) as T;
}
