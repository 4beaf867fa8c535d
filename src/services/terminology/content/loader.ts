/**
 * Putting terminology content into the service: one resource at a time through the engine (each
 * validated, its concepts indexed by the write interceptor), a large code system in bulk (its
 * concepts staged beside the live tables in short transactions, then published with the
 * CodeSystem resource stored with content `not-present`), and the core R4 content in batches. Resources are matched to what
 * is stored by url and version, so loading the same content twice changes nothing new.
 */
import { randomUUID } from 'node:crypto';
import type { CodeSystem, Resource } from '@medplum/fhirtypes';
import type { Logger } from '../../../common/logger.js';
import type { FhirEngine } from '../../../fhir/engine.js';
import { badRequest } from '../../../fhir/outcome.js';
import { FhirRepository } from '../../../fhir/repository.js';
import type { WriteInterceptor } from '../../../fhir/write-interceptors.js';
import type { ConceptStore } from '../concept-store.js';
import { dropConceptRows, prepareConcepts, publishStaged, stageCodeSystem, stagingEnded } from '../concept-writer.js';
import { conceptsOfCodeSystem, conceptBounds, type ConceptRecord } from '../concepts.js';
import { headerOf } from '../interceptors.js';
import { findByUrl } from '../resolve.js';

/** The resource types this service keeps; an importer skips anything else. */
export const TERMINOLOGY_TYPES = ['CodeSystem', 'ValueSet', 'ConceptMap', 'NamingSystem'];
/** Code systems with more concepts than this are loaded in bulk rather than as one FHIR write. */
export const BULK_CONCEPTS = 5_000;

export interface ImportReport {
  resources: number;
  concepts: number;
  skipped: number;
  ms: number;
}

export class ContentLoader {
  constructor(
    private readonly engine: FhirEngine,
    private readonly interceptors: readonly WriteInterceptor[],
    private readonly store: ConceptStore,
    private readonly logger?: Pick<Logger, 'info'>,
  ) {}

  /** TERMINOLOGY_MAX_PACKAGE_BYTES of this deployment. */
  get maxPackageBytes(): number {
    return this.engine.limits.terminologyMaxPackageBytes;
  }

  /** A repository bound to one maintenance transaction (exempt from request budgets: imports are the operator's). */
  private async inMaintenance<T>(fn: (repo: FhirRepository) => Promise<T>): Promise<T> {
    try {
      return await this.engine.db.transaction((tx) => fn(new FhirRepository({
        db: this.engine.db, schema: this.engine.schema, baseUrl: this.engine.baseUrl, localBaseUrls: this.engine.localBaseUrls, limits: this.engine.limits,
        interceptors: this.interceptors, definitions: this.engine.searchParameters, terminology: this.engine.terminology,
      }, tx)), { maintenance: true });
    } finally {
      this.store.forget(); // what readers cached meanwhile may predate the commit
    }
  }

  /** The id to store a resource under: the stored one of the same url and version, else its own, else a new one. */
  private async idFor(repo: FhirRepository, resource: Resource): Promise<string> {
    const { url, version } = resource as { url?: string; version?: string };
    if (url) {
      const existing = await findByUrl(repo, resource.resourceType, url, version);
      if (existing && (existing as { version?: string }).version === version) return existing.id!;
    }
    if (resource.id) {
      try {
        await repo.read(resource.resourceType, resource.id);
      } catch {
        return resource.id; // free (never stored, or deleted)
      }
    }
    return randomUUID();
  }

  /** Stores terminology resources (Bundles are opened); big code systems go in bulk. */
  async importResources(resources: Resource[], origin: string): Promise<ImportReport> {
    const started = Date.now();
    const report: ImportReport = { resources: 0, concepts: 0, skipped: 0, ms: 0 };
    const flat = resources.flatMap((r) => {
      if (r.resourceType !== 'Bundle') return [r];
      const entries: unknown = (r as { entry?: unknown }).entry ?? [];
      if (!Array.isArray(entries)) throw badRequest(`${origin}: Bundle.entry must be an array`);
      return entries.map((e) => (e as { resource?: Resource } | null)?.resource)
        .filter((x): x is Resource => typeof x === 'object' && x !== null && typeof x.resourceType === 'string');
    });
    for (const resource of flat) {
      if (!TERMINOLOGY_TYPES.includes(resource.resourceType)) {
        report.skipped++;
        continue;
      }
      if (resource.resourceType === 'CodeSystem') {
        const concepts = conceptsOfCodeSystem(resource as CodeSystem);
        if (concepts.length > BULK_CONCEPTS) {
          const { concept: _c, ...header } = resource as CodeSystem;
          void _c;
          report.concepts += await this.importCodeSystem(header as CodeSystem, concepts, origin);
          report.resources++;
          continue;
        }
        report.concepts += concepts.length;
      }
      await this.inMaintenance(async (repo) => {
        const id = await this.idFor(repo, resource);
        await repo.update(resource.resourceType, id, { ...resource, id });
      });
      report.resources++;
      if (report.resources % 100 === 0) this.logger?.info({ origin, resources: report.resources, of: flat.length }, 'terminology import');
    }
    report.ms = Date.now() - started;
    this.logger?.info({ origin, ...report }, 'terminology import done');
    return report;
  }

  /**
   * Loads a code system's concepts in bulk and stores its CodeSystem resource (content
   * not-present). Never one long transaction (concept-writer.ts, stageCodeSystem): the rows are
   * staged in short transactions, published in one short one, and the replaced version's rows
   * deleted after, so the rest of the exchange keeps being answered meanwhile.
   */
  async importCodeSystem(header: CodeSystem, concepts: readonly ConceptRecord[], origin: string): Promise<number> {
    if (!header.url) throw badRequest(`${origin}: a code system needs a url`);
    const { db, schema } = this.engine;
    const log = (stage: string, done: number, total: number): void => this.logger?.info({ origin, url: header.url, stage, done, total }, 'terminology import');
    // 422 for long codes or a bad hierarchy before anything is written.
    const prepared = await prepareConcepts(header, concepts, conceptBounds(this.engine.limits));
    const staged = await stageCodeSystem(db, schema, prepared, log);
    log('staged', prepared.unique.length, prepared.unique.length);
    let replaced: number | undefined;
    try {
      replaced = await this.inMaintenance(async (repo) => {
        const id = await this.idFor(repo, header);
        const resource: CodeSystem = { ...header, id, content: 'not-present', count: concepts.length };
        delete resource.concept;
        // The imported list is the content held (the resource says not-present only because it carries no concepts), unless the source called it a fragment.
        const old = await publishStaged(repo.sql, schema, staged, { ...headerOf(resource, id), content: header.content === 'fragment' || header.content === 'example' ? header.content : 'complete' });
        await repo.update('CodeSystem', id, resource);
        return old;
      });
    } catch (error) {
      await dropConceptRows(db, schema, staged).catch(() => undefined);
      throw error;
    } finally {
      stagingEnded(staged);
    }
    if (replaced !== undefined) {
      await dropConceptRows(db, schema, replaced);
      log('replaced version deleted', prepared.unique.length, prepared.unique.length);
    }
    await this.refreshStatistics();
    return concepts.length;
  }

  /**
   * A bulk load changes the tables' sizes by orders of magnitude: plans need fresh statistics
   * (ANALYZE samples: short, and exempt from the budgets in a maintenance transaction), and
   * index-only scans (paging a large expansion, counting it) need the visibility map that VACUUM
   * sets (PGlite has no autovacuum). VACUUM cannot run in a transaction, so it stays under the
   * statement budget: best effort, the import is published already.
   */
  private async refreshStatistics(): Promise<void> {
    const { db, schema } = this.engine;
    const tables = ['concept', 'closure', 'word', 'parent', 'property', 'designation', 'code_system'].map((t) => `${schema}.${t}`);
    try {
      await db.transaction((q) => q.exec(`ANALYZE ${tables.join(', ')}`), { maintenance: true });
      for (const table of tables) await db.exec(`VACUUM ${table}`);
    } catch (error) {
      this.logger?.info({ err: { message: (error as Error).message } }, 'terminology import: statistics not refreshed (the import is complete)');
    }
  }

  /**
   * Stores prepared resources as they are (no per-resource validation: the core definitions are
   * valid) in one statement. The caller gives each canonical url (per type) once and none already
   * stored (loadCoreContent), so no resource's interceptors depend on another's write.
   */
  async insertBatch(resources: Resource[]): Promise<void> {
    await this.inMaintenance((repo) => repo.insertPrepared(resources, undefined, { independent: true }));
  }
}
