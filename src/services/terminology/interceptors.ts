/**
 * What keeps the concept and map tables in step with the FHIR resources, inside each write's
 * transaction: a CodeSystem's concepts are indexed when it is created or updated (replaced whole)
 * and dropped when it is deleted; a ConceptMap's elements likewise. A CodeSystem stored with
 * content `not-present` keeps the concepts an importer loaded for its url and version.
 */
import type { CodeSystem, ConceptMap, Resource } from '@medplum/fhirtypes';
import { escapeSearchValue } from '../../common/search-value-escape.js';
import type { Limits } from '../../common/limits.js';
import type { Queryable } from '../../db/database.js';
import type { WriteEvent, WriteInterceptor } from '../../fhir/write-interceptors.js';
import { codeSystemChannel, type ConceptStore } from './concept-store.js';
import { claimCodeSystem, dropCodeSystemsOf, writeCodeSystem, writeCodeSystems, type CodeSystemHeader } from './concept-writer.js';
import { FhirError } from '../../fhir/outcome.js';
import { conceptsOfCodeSystem, countConcepts, conceptBounds, duplicateCodes } from './concepts.js';

export function headerOf(system: CodeSystem, resourceId: string): CodeSystemHeader {
  return {
    url: system.url!, version: system.version, resourceId, name: system.name ?? system.title,
    hierarchyMeaning: system.hierarchyMeaning, caseSensitive: system.caseSensitive ?? true, content: system.content,
  };
}

/** What the CodeSystem interceptor needs besides the store: who deletes the rows of versions it retires. */
export interface RetiredRows {
  kick(): void;
}

export function codeSystemInterceptor(store: ConceptStore, retired?: RetiredRows): WriteInterceptor {
  return {
    name: 'terminology: index CodeSystem concepts',
    types: ['CodeSystem'],
    before({ resource }) {
      // Refused before any indexing: a plain write holds one transaction; $import loads in bulk.
      const max = store.limits.terminologyMaxWriteConcepts;
      const count = resource ? countConcepts(resource as CodeSystem) : 0;
      if (count > max) {
        throw new FhirError(413, 'FHIR_TOO_COSTLY', `a CodeSystem written as a FHIR resource holds at most ${max} concepts (TERMINOLOGY_MAX_WRITE_CONCEPTS), this one ${count}: load it with POST $import (parameter "resource"), which indexes in bulk`);
      }
      const duplicates = resource ? duplicateCodes(resource as CodeSystem) : [];
      if (duplicates.length) {
        const caseInsensitive = (resource as CodeSystem).caseSensitive === false;
        throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `the CodeSystem's codes must be unique (csd-1)${caseInsensitive ? ', and it is not case sensitive, so codes that differ only in case are the same code' : ''}: ${duplicates.join(', ')} ${duplicates.length > 1 ? 'appear' : 'appears'} more than once; a concept under several parents is written once, with a "parent" property for each other parent`);
      }
    },
    async after({ action, id, stored, repo }) {
      const q = repo.sql;
      const token = store.writeOpened();
      // Delivered when this transaction commits, to every process following changes (ConceptStore.followChanges);
      // the token tells this process that its own write is now committed.
      await q.query('SELECT pg_notify($1, $2)', [codeSystemChannel(store.schema), `${token} ${id}`]);
      // Versions this write replaces or drops are retired: their rows go after the commit, in batches.
      retired?.kick();
      if (action === 'delete' || !stored) {
        await dropCodeSystemsOf(q, store.schema, id);
        return;
      }
      const system = stored as CodeSystem;
      const version = system.version ?? '';
      for (const old of await store.systemsOfResource(q, id)) {
        if (old.url !== system.url || old.version !== version) await dropCodeSystemsOf(q, store.schema, id);
      }
      if (!system.url) return;
      const header = headerOf(system, id);
      if (system.content === 'not-present') await claimCodeSystem(q, store.schema, header);
      else await writeCodeSystem(q, store.schema, header, conceptsOfCodeSystem(system), conceptBounds(store.limits));
    },
    async afterCreates(events) {
      // A bulk load (the core content, ~600 small code systems a start): what `after` does for
      // each, in a few statements for all of them instead of about ten for each.
      const q = events[0]!.repo.sql;
      const token = store.writeOpened();
      const ids = events.map((event) => event.id);
      await q.query(`SELECT pg_notify($1, $2 || ' ' || id) FROM unnest($3::text[]) AS id`, [codeSystemChannel(store.schema), token, ids]);
      retired?.kick();
      // A created id carries no code system unless a deleted resource of that id left one.
      const carried = await q.query<{ resource_id: string }>(`SELECT DISTINCT resource_id FROM ${store.schema}.code_system WHERE resource_id = ANY($1::text[])`, [ids]);
      for (const row of carried.rows) await dropCodeSystemsOf(q, store.schema, row.resource_id);
      const written: Array<{ header: CodeSystemHeader; concepts: ReturnType<typeof conceptsOfCodeSystem> }> = [];
      for (const { id, stored } of events) {
        const system = stored as CodeSystem | undefined;
        if (!system?.url) continue;
        const header = headerOf(system, id);
        if (system.content === 'not-present') await claimCodeSystem(q, store.schema, header);
        else written.push({ header, concepts: conceptsOfCodeSystem(system) });
      }
      await writeCodeSystems(q, store.schema, written, conceptBounds(store.limits));
    },
  };
}

/** Replaces the map_element rows of one ConceptMap (the index $translate finds maps by). */
export async function indexConceptMap(q: Queryable, schema: string, id: string, map: ConceptMap | undefined, maxCodeBytes = Infinity): Promise<void> {
  await q.query(`DELETE FROM ${schema}.map_element WHERE map_id = $1`, [id]);
  if (!map) return;
  assertMapCodesFit(map, maxCodeBytes);
  const cols: unknown[][] = Array.from({ length: 9 }, () => []);
  for (const group of map.group ?? []) {
    for (const element of group.element ?? []) {
      if (!element.code) continue;
      const targets = element.target?.length ? element.target : [{ equivalence: 'unmatched' as const }];
      for (const target of targets) {
        [group.source ?? null, group.sourceVersion ?? null, element.code, element.display ?? null, group.target ?? null, group.targetVersion ?? null,
          (target as { code?: string }).code ?? null, (target as { display?: string }).display ?? null, target.equivalence ?? 'equivalent']
          .forEach((v, i) => cols[i]!.push(v));
      }
    }
  }
  if (!cols[0]!.length) return;
  await q.query(
    `INSERT INTO ${schema}.map_element (map_id, map_url, map_version, source_system, source_version, source_code, source_display, target_system, target_version, target_code, target_display, equivalence)
     SELECT $1, $2, $3, * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])`,
    [id, map.url ?? null, map.version ?? null, ...cols]);
}

/** Source and target codes are index keys (map_element): longer than TERMINOLOGY_MAX_CODE_BYTES is 422, not a 500. */
function assertMapCodesFit(map: ConceptMap, maxCodeBytes: number): void {
  const tooLong = (code: unknown): boolean => typeof code === 'string' && code.length > maxCodeBytes / 4 && Buffer.byteLength(code, 'utf8') > maxCodeBytes;
  for (const group of map.group ?? []) {
    for (const element of group.element ?? []) {
      const code = [element.code, ...(element.target ?? []).map((t) => t.code)].find(tooLong);
      if (code) throw new FhirError(422, 'FHIR_BAD_REQUEST', `ConceptMap code "${String(code).slice(0, 60)}..." is longer than ${maxCodeBytes} bytes (TERMINOLOGY_MAX_CODE_BYTES)`);
    }
  }
}

export function conceptMapInterceptor(schema: string, limits?: Pick<Limits, 'terminologyMaxCodeBytes'>): WriteInterceptor {
  return {
    name: 'terminology: index ConceptMap elements',
    types: ['ConceptMap'],
    async after({ action, id, stored, repo }) {
      await indexConceptMap(repo.sql, schema, id, action === 'delete' ? undefined : (stored as ConceptMap | undefined), limits?.terminologyMaxCodeBytes);
    },
  };
}

/**
 * One url|version per ValueSet and per ConceptMap, as for CodeSystem (code_system's unique key):
 * a second resource with the same url and version is refused with 422, so which one a canonical
 * names is never a matter of which was written last.
 */
export function canonicalUniqueInterceptor(): WriteInterceptor {
  return {
    name: 'terminology: one url|version per ValueSet and ConceptMap',
    types: ['ValueSet', 'ConceptMap'],
    before: refuseTakenCanonical,
    async beforeCreates(events) {
      // A bulk load: the stored resources of the batch's urls in one search a type (and chunk),
      // and the batch against itself, instead of a search per resource.
      const owners = new Map<string, string>();
      const repo = events[0]!.repo;
      for (const type of new Set(events.map((e) => e.type))) {
        const ofType = events.filter((e) => e.type === type);
        const urls = [...new Set(ofType.flatMap((e) => canonicalOf(e.resource)?.url ?? []))];
        for (let start = 0; start < urls.length; start += URLS_PER_SEARCH) {
          const chunk = urls.slice(start, start + URLS_PER_SEARCH);
          const query: Array<[string, string]> = [['url', chunk.map(escapeSearchValue).join(',')], ['_count', String(STORED_PER_SEARCH)]];
          const stored = await repo.searchResources(repo.parseSearch(type, query, false));
          if (stored.length >= STORED_PER_SEARCH) {
            // More versions stored than one page holds: these urls are checked one resource at a time.
            for (const event of ofType) if (chunk.includes(canonicalOf(event.resource)?.url ?? '')) await refuseTakenCanonical(event);
            continue;
          }
          for (const resource of stored) {
            const c = canonicalOf(resource);
            if (c) owners.set(`${type} ${c.url}|${c.version}`, resource.id!);
          }
        }
      }
      for (const { type, id, resource } of events) {
        const c = canonicalOf(resource);
        if (!c) continue;
        const key = `${type} ${c.url}|${c.version}`;
        const owner = owners.get(key);
        if (owner !== undefined && owner !== id) throw canonicalTaken(type, c.url, c.version, owner);
        owners.set(key, id);
      }
    },
  };
}

/** A ValueSet's or ConceptMap's url and version ('' when it has none), when it has a url. */
function canonicalOf(resource: Resource | undefined): { url: string; version: string } | undefined {
  const { url, version } = (resource ?? {}) as { url?: unknown; version?: unknown };
  return typeof url === 'string' && url ? { url, version: typeof version === 'string' ? version : '' } : undefined;
}

/** 422 when another stored resource of the type has the resource's url|version. */
async function refuseTakenCanonical({ type, id, resource, repo }: WriteEvent): Promise<void> {
  const c = canonicalOf(resource);
  if (!c) return;
  const query: Array<[string, string]> = [['url', escapeSearchValue(c.url)], ['_count', '100']];
  if (c.version) query.push(['version', escapeSearchValue(c.version)]);
  const same = (await repo.searchResources(repo.parseSearch(type, query, false)))
    .filter((r) => r.id !== id && ((r as { version?: string }).version ?? '') === c.version);
  if (same.length) throw canonicalTaken(type, c.url, c.version, same[0]!.id!);
}

/** Resources one search of a bulk check reads at most; a full page falls back to one check per resource. */
const STORED_PER_SEARCH = 1000;

/** Canonical urls asked in one search of a bulk check (below FHIR_SEARCH_MAX_VALUES' default). */
const URLS_PER_SEARCH = 50;

function canonicalTaken(type: string, url: string, version: unknown, owner: string): FhirError {
  return new FhirError(422, 'FHIR_INVALID_RESOURCE', `${type} ${url.slice(0, 200)}${version ? `|${String(version).slice(0, 40)}` : ''} already exists as ${type}/${owner}; ` +
    'update that resource, or give this one another version');
}
