import { InstantError } from '../../common/errors.js';
import { readJsonResponse, type ImportContext, type Importer } from './importer.js';

type Resource = { resourceType?: string; id?: string; [key: string]: unknown };
type BundleEntry = { resource?: Resource; request?: { method?: string; url?: string; [key: string]: unknown }; fullUrl?: string };

function fhirBase(context: ImportContext): string {
  const shr = context.endpoints[context.service ?? 'shared-health-record'];
  const base = shr?.fhir ?? (shr?.http ? `${shr.http}/fhir` : undefined) ?? context.vars.FHIR_BASE_URL;
  if (!base) {
    throw new InstantError('INSTANT_IMPORT_TARGET_MISSING', 'the fhir importer needs the shared-health-record service running (or FHIR_BASE_URL)', 'add the fhir-datastore package as a dependency');
  }
  return base.replace(/\/$/, '');
}

/**
 * Seeds FHIR resources: a Bundle (sent as a transaction) or a single resource. Entries that
 * create a resource with a given id are turned into PUTs, so a second init changes nothing.
 */
export const importFhirResources: Importer = async (content, context, origin) => {
  const resource = content as Resource;
  if (!resource || typeof resource !== 'object' || typeof resource.resourceType !== 'string') {
    throw new InstantError('INSTANT_IMPORT_INVALID', `${origin}: expected a FHIR resource or Bundle`);
  }
  const entries: BundleEntry[] =
    resource.resourceType === 'Bundle' ? ((resource.entry as BundleEntry[] | undefined) ?? []) : [{ resource, request: { method: 'PUT' } }];
  const idempotent = entries.map((entry, index) => {
    const r = entry.resource;
    const method = entry.request?.method ?? (r?.id ? 'PUT' : 'POST');
    if (r?.resourceType && r.id && (method === 'POST' || method === 'PUT')) {
      return { ...entry, request: { method: 'PUT', url: `${r.resourceType}/${r.id}` } };
    }
    if (method === 'POST' && !entry.request?.ifNoneExist) {
      context.logger.warn({ origin, entry: index }, 'entry creates a resource without an id or ifNoneExist: a second init will create it again');
    }
    return { ...entry, request: { ...entry.request, method, url: entry.request?.url ?? r?.resourceType ?? '' } };
  });
  // Large imports go as several transactions (each within FHIR_BUNDLE_MAX_ENTRIES), in order, so
  // what an entry refers to is sent before it; each is all or nothing, and a re-run puts the same.
  let created = 0;
  let updated = 0;
  for (let start = 0; start < idempotent.length || start === 0; start += IMPORT_CHUNK_ENTRIES) {
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: idempotent.slice(start, start + IMPORT_CHUNK_ENTRIES) };
    const response = await fetch(fhirBase(context), {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
      body: JSON.stringify(bundle),
    });
    const reply = (await readJsonResponse(response, `FHIR transaction from ${origin}`)) as { entry?: Array<{ response?: { status?: string } }> };
    for (const entry of reply?.entry ?? []) {
      if (entry.response?.status?.startsWith('201')) created++;
      else updated++;
    }
    if (idempotent.length > IMPORT_CHUNK_ENTRIES) context.progress?.(`${Math.min(start + IMPORT_CHUNK_ENTRIES, idempotent.length)}/${idempotent.length} resources`);
  }
  return { created, updated, unchanged: 0 };
};

/**
 * Entries per transaction of a large import: well below FHIR_BUNDLE_MAX_ENTRIES, and small enough
 * that one transaction stays far inside the database's transaction budget
 * (INSTANT_DB_TRANSACTION_TIMEOUT_MS, 30 s) on a slow or busy machine: 500 client-registry
 * registrations in one transaction, each matched against the others, once ran past it.
 */
export const IMPORT_CHUNK_ENTRIES = 100;
