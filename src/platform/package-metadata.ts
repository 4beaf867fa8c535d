import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ErrorObject } from 'ajv';
import { InstantError } from '../common/errors.js';
import { packageMetadataValidator } from './package-metadata-schema.js';

export const METADATA_FILE = 'package-metadata.json';

export interface ServiceEntry {
  name: string;
  /** Absolute path of a custom service module, when the package ships its own. */
  module?: string;
  image?: string;
}

export interface SecretSpec {
  name: string;
  description?: string;
  length: number;
}

export interface ImporterSpec {
  type: 'openhim' | 'fhir';
  /** Absolute path of the importer's JSON file. */
  file: string;
  /** The service that receives the import, when not the importer type's default. */
  service?: string;
  description?: string;
}

export interface InstantPackage {
  id: string;
  name: string;
  description: string;
  type: 'infrastructure' | 'use-case';
  version: string;
  dependencies: string[];
  environmentVariables: Record<string, string>;
  services: ServiceEntry[];
  secrets: SecretSpec[];
  importers: ImporterSpec[];
  /** Absolute path of the features folder. */
  featuresDir: string;
  /** How to use the package once deployed (printed after init/up). */
  usage: string[];
  /** The package folder. */
  dir: string;
  builtIn: boolean;
  /**
   * An upstream (Docker) deployment file in the folder (swarm.sh, docker-compose.yml), when the
   * package declares no services of ours: it runs containers, which only a container target can.
   */
  containerDeployment?: string;
}

/** Files by which upstream packages start their containers, in the order reported. */
const CONTAINER_DEPLOYMENT_FILES = ['swarm.sh', 'docker-compose.yml', 'docker-compose.yaml'];

const validateMetadata = await packageMetadataValidator();

/** Turns one schema error into "field \"x.y\": reason". */
function describeSchemaError(error: ErrorObject): string {
  const path = error.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `field "${path ? `${path}.` : ''}${String(params.missingProperty)}": is required`;
    case 'additionalProperties':
      return `field "${path ? `${path}.` : ''}${String(params.additionalProperty)}": is not a known field`;
    case 'enum':
      return `field "${path}": must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
    case 'pattern':
      return `field "${path}": "${String(error.data)}" does not match ${String(params.pattern)}`;
    default:
      return `field "${path || '(root)'}": ${error.message ?? 'is invalid'}`;
  }
}

/** Validates raw metadata; the error names the file, the field and the reason. */
export function parsePackageMetadata(raw: unknown, dir: string, builtIn: boolean): InstantPackage {
  const file = join(dir, METADATA_FILE);
  const data = structuredClone(raw) as Record<string, unknown>;
  if (!validateMetadata(data)) {
    const errors = (validateMetadata.errors ?? []).filter((e: ErrorObject) => e.keyword !== 'oneOf' && e.keyword !== 'if');
    const reasons = [...new Set(errors.map(describeSchemaError))];
    throw new InstantError(
      'INSTANT_PACKAGE_METADATA_INVALID',
      `invalid package metadata in ${file}:\n    ${reasons.join('\n    ')}`,
      'fix the fields named above; the format is described in docs/package-format.md',
    );
  }
  const meta = data as unknown as {
    id: string;
    name: string;
    description?: string;
    type: InstantPackage['type'];
    version: string;
    dependencies: string[];
    environmentVariables: Record<string, string | number | boolean>;
    services: Array<string | { name: string; module?: string; image?: string }>;
    secrets: Array<{ name: string; description?: string; length: number }>;
    importers: Array<{ type: ImporterSpec['type']; file: string; description?: string; service?: string }>;
    features: string;
    usage: string[];
  };
  if (meta.dependencies.includes(meta.id)) {
    throw new InstantError('INSTANT_PACKAGE_METADATA_INVALID', `invalid package metadata in ${file}:\n    field "dependencies": the package depends on itself`);
  }
  return {
    id: meta.id,
    name: meta.name,
    description: meta.description ?? '',
    type: meta.type,
    version: meta.version,
    dependencies: meta.dependencies,
    environmentVariables: Object.fromEntries(Object.entries(meta.environmentVariables).map(([k, v]) => [k, String(v)])),
    services: meta.services.map((s) =>
      typeof s === 'string' ? { name: s } : { name: s.name, ...(s.module ? { module: join(dir, s.module) } : {}), ...(s.image ? { image: s.image } : {}) },
    ),
    secrets: meta.secrets.map((s) => ({ name: s.name, length: s.length, ...(s.description ? { description: s.description } : {}) })),
    importers: meta.importers.map((i) => ({
      type: i.type,
      file: join(dir, i.file),
      ...(i.description ? { description: i.description } : {}),
      ...(i.service ? { service: i.service } : {}),
    })),
    featuresDir: join(dir, meta.features),
    usage: meta.usage,
    dir,
    builtIn,
    ...containerDeploymentOf(dir, meta.services.length),
  };
}

function containerDeploymentOf(dir: string, serviceCount: number): { containerDeployment?: string } {
  if (serviceCount > 0) return {};
  const file = CONTAINER_DEPLOYMENT_FILES.find((name) => existsSync(join(dir, name)));
  return file ? { containerDeployment: file } : {};
}

export function readPackageMetadata(dir: string, builtIn: boolean): InstantPackage {
  const file = join(dir, METADATA_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InstantError('INSTANT_PACKAGE_METADATA_UNREADABLE', `cannot read ${file}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InstantError(
      'INSTANT_PACKAGE_METADATA_INVALID',
      `invalid package metadata in ${file}: not valid JSON (${(error as Error).message})`,
      'fix the JSON syntax of the file',
    );
  }
  return parsePackageMetadata(raw, dir, builtIn);
}
