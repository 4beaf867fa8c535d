/**
 * PIX identity integrity: an identifier in an assigning authority's domain names one person. A
 * client's write that would leave a domain identifier on source records of two golden records
 * (a second, different person registered with `domA|A1`) is refused 409, naming the identifier
 * and the record that holds it; `$ihe-pix` on it would otherwise answer for one of them only.
 * Two clinics' records of the same person (the matcher linked them) may share an identifier: that
 * is the cross-reference the registry exists for. The registry's own writes (merge, unmerge,
 * relink) are a person's or the registry's decision and are not checked here.
 *
 * The check runs after the write (an `after` hook, behind the linker that chose the golden
 * record): a transaction bundle's creates are written in one statement after all their `before`
 * hooks, so only then can one entry see another entry holding the same identifier.
 */
import type { Identifier, Patient } from '@medplum/fhirtypes';
import { FhirError } from '../../fhir/outcome.js';
import type { FhirRepository } from '../../fhir/repository.js';
import type { WriteInterceptor } from '../../fhir/write-interceptors.js';
import { isGolden, referencedId } from './golden-record.js';
import { isRegistryWrite } from './request-context.js';
import type { RegistryStore } from './store.js';
import { escapeSearchValue } from '../../common/search-value-escape.js';

/** Advisory lock class of identifier locks (two-key form, apart from the blocking-key classes). */
const IDENTIFIER_LOCK_CLASS = 0x4349; // "CI"
/** Identifiers are locked by hash bucket, so a big bundle holds at most this many locks. */
const IDENTIFIER_BUCKETS = 1024;
/** Identifiers per search (the engine's OR list limit is higher). */
const PER_SEARCH = 10;
/** Holders read per search: one is enough to refuse; a few more show the client what is wrong. */
const MAX_HOLDERS = 20;

const keyOf = (identifier: Identifier): string => `${identifier.system}|${identifier.value}`;
/** A token search value for one identifier, its commas and backslashes escaped. */
const tokenOf = (identifier: Identifier): string => `${escapeSearchValue(identifier.system ?? '')}|${escapeSearchValue(identifier.value ?? '')}`;

/** The identifiers whose holders must be checked: all on a create, the changed ones otherwise. */
export function identifiersToCheck(patient: Patient, previous: Patient | undefined, goldenMoved: boolean): Identifier[] {
  const identifiers = (patient.identifier ?? []).filter((i) => i.system && i.value);
  if (!previous || goldenMoved) return identifiers;
  const had = new Set((previous.identifier ?? []).map(keyOf));
  return identifiers.filter((i) => !had.has(keyOf(i)));
}

/**
 * Refuses (409) when another source record holding one of the identifiers belongs to another
 * golden record than `goldenId`. Runs in the write's transaction under a lock per identifier
 * bucket, so two registrations of one identifier at the same moment are checked one after the other.
 */
export async function assertIdentifiersNameOnePerson(repo: FhirRepository, store: RegistryStore, sourceId: string, goldenId: string, identifiers: readonly Identifier[]): Promise<void> {
  if (!identifiers.length) return;
  await repo.sql.query(
    `SELECT count(pg_advisory_xact_lock(${IDENTIFIER_LOCK_CLASS}, b)) FROM (SELECT DISTINCT hashtext(k) & ${IDENTIFIER_BUCKETS - 1} AS b FROM unnest($1::text[]) AS k ORDER BY 1) AS l`,
    [identifiers.map(keyOf)],
  );
  const wanted = new Set(identifiers.map(keyOf));
  for (let at = 0; at < identifiers.length; at += PER_SEARCH) {
    const chunk = identifiers.slice(at, at + PER_SEARCH);
    const found = await repo.search('Patient', [['identifier', chunk.map(tokenOf).join(',')], ['_count', String(MAX_HOLDERS)]]);
    for (const entry of found.entry ?? []) {
      const holder = entry.resource as Patient;
      if (holder.id === sourceId || isGolden(holder)) continue;
      const holderGolden = await store.goldenOf(repo.sql, holder.id!);
      if (!holderGolden || holderGolden === goldenId) continue;
      const shared = (holder.identifier ?? []).find((i) => wanted.has(keyOf(i)))!;
      throw new FhirError(409, 'FHIR_CONFLICT',
        `identifier ${keyOf(shared).slice(0, 300)} already names another person: source record Patient/${holder.id} (golden record Patient/${holderGolden}); ` +
        'an identifier of an assigning authority\'s domain names one person. Update that record (a conditional update on the identifier resolves to it), or correct the identifier');
    }
  }
}

const goldenLinkOf = (patient: Patient | undefined): string | undefined => {
  const link = patient?.link?.find((l) => l.type === 'refer');
  return link ? referencedId(link) : undefined;
};

/** Refuses a client's Patient write that would leave one of its identifiers naming two people. */
export function identifierIntegrityInterceptor(store: RegistryStore): WriteInterceptor {
  return {
    name: 'client registry: one identifier, one person',
    types: ['Patient'],
    async after({ action, id, stored, previous, repo }) {
      const patient = stored as Patient | undefined;
      if (action === 'delete' || !patient || isGolden(patient) || isRegistryWrite()) return;
      const goldenId = goldenLinkOf(patient);
      if (!goldenId) return;
      const moved = goldenId !== goldenLinkOf(previous as Patient | undefined);
      await assertIdentifiersNameOnePerson(repo, store, id, goldenId, identifiersToCheck(patient, previous as Patient | undefined, moved));
    },
  };
}
