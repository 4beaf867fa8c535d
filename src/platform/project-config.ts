import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InstantError } from '../common/errors.js';
import { parseAssignment } from './env-file.js';

export const PROJECT_CONFIG_FILE = 'instant.config.yaml';
/** Upstream's name for the same file: read when there is no instant.config.yaml and it is one. */
export const UPSTREAM_CONFIG_FILE = 'config.yaml';
const UPSTREAM_KEYS = ['projectName', 'image', 'logPath', 'packages', 'customPackages', 'profiles'];

const envVarsSchema = z.union([
  z.array(z.string()),
  z.record(z.union([z.string(), z.number(), z.boolean()])),
]);

const quantitySchema = z.object({ cpu: z.string().regex(/^\d+(\.\d+)?m?$/).optional(), memory: z.string().regex(/^\d+(Ki|Mi|Gi|Ti|k|M|G|T)?$/).optional() }).strict();
const resourceSchema = z.object({ requests: quantitySchema.default({}), limits: quantitySchema.default({}) }).strict();

const profileSchema = z
  .object({
    name: z.string().min(1),
    packages: z.array(z.string()).default([]),
    envFiles: z.array(z.string()).default([]),
    envVars: envVarsSchema.default([]),
    dev: z.boolean().default(false),
    only: z.boolean().default(false),
    /** Container targets: replicas of each service (the router and FHIR services scale on PostgreSQL). */
    replicas: z.record(z.number().int().min(0).max(100)).default({}),
    /** Container targets: requests and limits of each service (Kubernetes quantities: cpu 250m, memory 512Mi). */
    resources: z.record(resourceSchema).default({}),
  })
  .strict();

const projectSchema = z
  .object({
    projectName: z.string().min(1).optional(),
    image: z.string().optional(),
    /** Upstream's log folder for its containers: accepted, our logs live in the state directory. */
    logPath: z.string().optional(),
    packages: z.array(z.string()).default([]),
    customPackages: z.array(z.union([z.string(), z.object({ id: z.string().optional(), path: z.string() })])).default([]),
    profiles: z.array(profileSchema).default([]),
  })
  .strict();

export interface Profile {
  name: string;
  packages: string[];
  /** Absolute paths, resolved against the config file's folder. */
  envFiles: string[];
  envVars: Record<string, string>;
  dev: boolean;
  only: boolean;
  /** Container targets: replicas by service name. */
  replicas?: Record<string, number>;
  /** Container targets: requests and limits by service name (or `postgres`). */
  resources?: Record<string, ResourceSpec>;
}

export interface ResourceSpec {
  requests: { cpu?: string; memory?: string };
  limits: { cpu?: string; memory?: string };
}

export interface ProjectConfig {
  file: string;
  projectName?: string;
  packages: string[];
  /** Absolute custom package paths. */
  customPackages: string[];
  profiles: Profile[];
}

/**
 * The project config (upstream's config.yaml): the given file, else instant.config.yaml in the
 * working folder, else an upstream config.yaml there. `warn` hears what is accepted but unused.
 */
export function loadProjectConfig(path?: string, cwd = process.cwd(), warn: (message: string) => void = (m) => process.stderr.write(`instant: ${m}\n`)): ProjectConfig | undefined {
  const file = path ? resolve(cwd, path) : [PROJECT_CONFIG_FILE, UPSTREAM_CONFIG_FILE].map((name) => join(cwd, name)).find(existsSync);
  if (!file || !existsSync(file)) {
    if (path) throw new InstantError('INSTANT_CONFIG_MISSING', `project config ${file} does not exist`, 'check the --config path');
    return undefined;
  }
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    if (!path && file.endsWith(`/${UPSTREAM_CONFIG_FILE}`)) return undefined; // some other tool's config.yaml
    throw new InstantError('INSTANT_CONFIG_INVALID', `${file} is not valid YAML: ${(error as Error).message}`);
  }
  // A config.yaml found by name only is ours to read if it looks like upstream's.
  if (!path && file.endsWith(`/${UPSTREAM_CONFIG_FILE}`) && !(isObject(raw) && UPSTREAM_KEYS.some((key) => key in raw))) return undefined;
  const parsed = projectSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const reasons = parsed.error.issues.map((issue) => `field "${issue.path.join('.') || '(root)'}": ${issue.message}`);
    throw new InstantError('INSTANT_CONFIG_INVALID', `invalid project config ${file}:\n    ${reasons.join('\n    ')}`, `the fields are ${UPSTREAM_KEYS.join(', ')}; see docs/cli.md#project-config`);
  }
  const base = dirname(file);
  const config = parsed.data;
  if (config.logPath !== undefined) warn(`${file}: logPath is not used here; every service logs to the state directory (read them with \`instant logs\`)`);
  config.customPackages.forEach((entry, index) => {
    const location = typeof entry === 'string' ? entry : entry.path;
    if (/^(?:[a-z+]+:\/\/|git@)/i.test(location)) {
      throw new InstantError(
        'INSTANT_CONFIG_INVALID',
        `invalid project config ${file}: customPackages[${index}] "${location}" is a remote repository; packages are read from folders here`,
        `clone it (git clone ${location}) and give the folder's path instead`,
      );
    }
  });
  const names = new Set<string>();
  const profiles = config.profiles.map((p) => {
    if (names.has(p.name)) throw new InstantError('INSTANT_CONFIG_INVALID', `invalid project config ${file}: profile "${p.name}" is defined twice`);
    names.add(p.name);
    const envVars = Array.isArray(p.envVars)
      ? Object.fromEntries(p.envVars.map((a) => parseAssignment(a, `${file} profile ${p.name}`)))
      : Object.fromEntries(Object.entries(p.envVars).map(([k, v]) => [k, String(v)]));
    return { name: p.name, packages: p.packages, envFiles: p.envFiles.map((f) => resolve(base, f)), envVars, dev: p.dev, only: p.only, replicas: p.replicas, resources: p.resources };
  });
  return {
    file,
    ...(config.projectName ? { projectName: config.projectName } : {}),
    packages: config.packages,
    customPackages: config.customPackages.map((c) => resolve(base, typeof c === 'string' ? c : c.path)),
    profiles,
  };
}

export function findProfile(config: ProjectConfig | undefined, name: string): Profile {
  const profile = config?.profiles.find((p) => p.name === name);
  if (!profile) {
    const known = config?.profiles.map((p) => p.name) ?? [];
    throw new InstantError(
      'INSTANT_PROFILE_UNKNOWN',
      `no profile named "${name}"${config ? ` in ${config.file}` : ' (there is no instant.config.yaml here)'}`,
      known.length ? `profiles: ${known.join(', ')}` : 'define profiles in instant.config.yaml',
    );
  }
  return profile;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
