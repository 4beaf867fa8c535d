import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';

/** The installed project root (holds package.json, packages/, docs/), from src/ or dist/src/. */
function findProjectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'packages'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error('cannot find the Instant OpenHIE installation root (package.json beside packages/)');
}

export const projectRoot = findProjectRoot();
export const builtInPackagesDir = join(projectRoot, 'packages');
export const packageMetadataSchemaPath = join(projectRoot, 'docs', 'package-metadata.schema.json');
