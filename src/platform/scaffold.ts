import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InstantError } from '../common/errors.js';
import { projectRoot } from './paths.js';

/**
 * `instant package new <id> [--template]`: a working custom package copied from
 * templates/packages/<template>/, with the id, names and port filled in. Templates are plain
 * files (a service module, features, importers), so each one can be read and tried as it is.
 */
export const PACKAGE_TEMPLATES = {
  service: 'a small JSON API with its own database schema, and features that prove it',
  mediator: 'a mediator on core: registers with the interop layer via the mediator SDK, heartbeats, installs its channel, answers orchestrated look-ups through the router',
  'use-case': 'a use case on core: a channel, its client and seed data (importers), and features',
} as const;

export type PackageTemplate = keyof typeof PACKAGE_TEMPLATES;

const templatesDir = join(projectRoot, 'templates', 'packages');

function isTemplate(name: string): name is PackageTemplate {
  return Object.hasOwn(PACKAGE_TEMPLATES, name);
}

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((entry) => (statSync(join(dir, entry)).isDirectory() ? filesUnder(join(dir, entry), `${prefix}${entry}/`) : [`${prefix}${entry}`]));
}

export function scaffoldPackage(id: string, parentDir: string, options: { port?: number | string; template?: string } = {}): string {
  const template = options.template ?? 'service';
  if (!isTemplate(template)) {
    throw new InstantError('INSTANT_PACKAGE_TEMPLATE_UNKNOWN', `there is no package template "${template}"`, `choose one of: ${Object.keys(PACKAGE_TEMPLATES).join(', ')}`);
  }
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(id)) {
    throw new InstantError('INSTANT_PACKAGE_ID_INVALID', `"${id}" is not a valid package id`, 'use kebab-case: lower-case letters, digits and single dashes, e.g. my-mediator');
  }
  // The port becomes the package's <ID>_PORT default: refused here, not at its first start ("NaN").
  const port = options.port === undefined ? defaultPortFor(id) : Number(options.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InstantError('INSTANT_PACKAGE_PORT_INVALID', `--port ${String(options.port)} is not a port number`, 'give a free port from 1 to 65535, or leave out --port for one from the id (4100-4999)');
  }
  const dir = resolve(parentDir, id);
  if (existsSync(dir)) throw new InstantError('INSTANT_PACKAGE_EXISTS', `${dir} already exists`, 'choose another id or --dir');
  // No token is a part of another, so the order of replacement does not matter.
  const tokens: Record<string, string> = {
    __ID__: id,
    __NAME__: id.split('-').map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' '),
    __ENV__: id.replace(/-/g, '_').toUpperCase(),
    __SCHEMA__: id.replace(/-/g, '_'),
    __PORT__: String(port),
    __CUSTOM_PATH__: resolve(parentDir) === process.cwd() ? '.' : parentDir,
  };
  const fill = (text: string) => Object.entries(tokens).reduce((out, [token, value]) => out.split(token).join(value), text);
  const source = join(templatesDir, template);
  for (const file of filesUnder(source)) {
    const target = join(dir, fill(file));
    mkdirSync(resolve(target, '..'), { recursive: true });
    writeFileSync(target, fill(readFileSync(join(source, file), 'utf8')));
  }
  return dir;
}

/**
 * A package's default port, from its id (4100-4999): two new packages, say a service and a
 * mediator made from two templates, do not both take the same port by default.
 */
export function defaultPortFor(id: string): number {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return 4100 + (hash % 900);
}
