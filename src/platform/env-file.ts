import { readFileSync } from 'node:fs';
import dotenv from 'dotenv';
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
 * Reads a .env file with dotenv's syntax (what Docker Compose and most tools read): NAME=value
 * lines, `export ` prefixes, # comments, single, double or backtick quotes, multi-line quoted
 * values, `\n` in double quotes. Stricter than dotenv where a typo would silently drop a setting:
 * a line that is no assignment, or a name that is no variable name, is refused with its line.
 */
export function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InstantError('INSTANT_ENV_FILE_UNREADABLE', `cannot read env file ${path}: ${(error as Error).message}`, 'check the --env-file path');
  }
  const values = dotenv.parse(text);
  checkLines(text, path);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(values)) {
    if (!NAME.test(name)) throw new InstantError('INSTANT_SETTING_SYNTAX', `${path}: "${name}" is not a variable name`, 'names are letters, digits and _, not starting with a digit');
    out[name] = value;
  }
  return out;
}

/** Every line outside a quoted multi-line value must be blank, a comment or an assignment. */
function checkLines(text: string, path: string): void {
  let openQuote: string | undefined;
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (openQuote) {
      if (line.endsWith(openQuote)) openQuote = undefined;
      return;
    }
    if (!line || line.startsWith('#')) return;
    const assignment = /^(?:export\s+)?([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (!assignment) parseAssignment(line, `${path}:${index + 1}`); // throws, naming the line
    const value = assignment![2]!;
    const quote = value[0];
    if ((quote === '"' || quote === "'" || quote === '`') && (value.length === 1 || !value.slice(1).includes(quote))) openQuote = quote;
  });
}
