import { readFileSync } from 'node:fs';
import { InstantError } from '../common/errors.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses `K=V` (as given to -e): the name must be a valid variable name. */
export function parseAssignment(text: string, origin: string): [string, string] {
  const eq = text.indexOf('=');
  const name = eq < 0 ? text : text.slice(0, eq);
  if (eq < 0 || !NAME.test(name)) {
    throw new InstantError('INSTANT_SETTING_SYNTAX', `${origin}: "${text}" is not of the form NAME=value`, 'names are letters, digits and _, not starting with a digit');
  }
  return [name, text.slice(eq + 1)];
}

/**
 * Reads a .env file: NAME=value lines, `export ` prefixes, # comments, blank lines, and
 * single- or double-quoted values (double quotes understand \n, \" and \\).
 */
export function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InstantError('INSTANT_ENV_FILE_UNREADABLE', `cannot read env file ${path}: ${(error as Error).message}`, 'check the --env-file path');
  }
  const values: Record<string, string> = {};
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) return;
    const [name, rawValue] = parseAssignment(line.replace(/^export\s+/, ''), `${path}:${index + 1}`);
    values[name] = unquote(rawValue.trim());
  });
  return values;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1);
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(["\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
  }
  const comment = value.search(/\s#/);
  return comment >= 0 ? value.slice(0, comment).trimEnd() : value;
}
