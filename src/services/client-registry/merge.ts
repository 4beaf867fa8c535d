/**
 * Merging two source records of one person: the duplicate (source) is kept, inactive, with a
 * `replaced-by` link to the surviving record (target), which gets a `replaces` link back; the
 * duplicate's golden link moves to the target's golden record (its old golden record, if left
 * empty, is deleted), and it stops being a match candidate. Unmerge restores what the merge row
 * remembers. Every step is a new version in history and a decision in `cr.decision`.
 */
import type { Identifier, Patient } from '@medplum/fhirtypes';
import { FhirError } from '../../fhir/outcome.js';
import type { FhirRepository } from '../../fhir/repository.js';
import { referencedId, withGoldenLink, withLinks } from './golden-record.js';
import type { GoldenRecordLinker } from './linker.js';
import { readPatient } from './linker.js';
import type { DomainsReader } from './identifier-domains.js';
import { assertMayMerge } from './record-owners.js';
import { replacedBy } from './registry-ownership.js';
import { asRegistry } from './request-context.js';
import type { RegistryStore } from './store.js';

const withoutLink = (patient: Patient, type: string, otherId: string): Patient =>
  withLinks(patient, (patient.link ?? []).filter((l) => !(l.type === type && referencedId(l) === otherId)));

export class PatientMerger {
  /** `readDomains` gives the protected domains' owners: a record's owner when none is recorded (record-owners.ts). */
  constructor(private readonly store: RegistryStore, private readonly linker: GoldenRecordLinker, private readonly readDomains: DomainsReader) {}

  /** Merges source into target inside the caller's transaction; answers the target's golden record. */
  async merge(repo: FhirRepository, sourceId: string, targetId: string, via: string, survivorIdentifier?: Identifier): Promise<string> {
    if (sourceId === targetId) throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `Patient/${sourceId} cannot be merged into itself`);
    const source = await this.linker.readSource(repo, sourceId);
    const target = await this.linker.readSource(repo, targetId);
    // Before anything else is said about the records: whose they are (a clinic merging another's away is 403).
    await assertMayMerge(repo, this.readDomains, source, target);
    const already = replacedBy(source);
    if (already) throw new FhirError(409, 'FHIR_CONFLICT', `Patient/${sourceId} was already merged into Patient/${already}`);
    const targetMerged = replacedBy(target);
    if (targetMerged) throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `Patient/${targetId} was itself merged into Patient/${targetMerged}: merge into that record`);
    const sourceGolden = await this.store.goldenOf(repo.sql, sourceId);
    const targetGolden = (await this.store.goldenOf(repo.sql, targetId))!;
    await this.store.recordMerge(repo.sql, { source_id: sourceId, target_id: targetId, previous_golden_id: sourceGolden ?? null, previous_active: source.active ?? null });
    await asRegistry(async () => {
      // Records merged into this person's records before (Y merged into X, now X into Z) follow to
      // the survivor's person first: the old golden record is never left standing on retired records.
      if (sourceGolden && sourceGolden !== targetGolden) {
        for (const other of await this.store.sourcesOf(repo.sql, sourceGolden)) {
          const record = other !== sourceId ? await readPatient(repo, other) : undefined;
          if (!record || !replacedBy(record)) continue;
          await this.linker.moveSource(repo, other, sourceGolden, targetGolden, 'merged');
          await repo.update('Patient', other, withGoldenLink(record, targetGolden)); // its own `refer` link says so too
        }
      }
      await this.linker.moveSource(repo, sourceId, sourceGolden, targetGolden, 'merged');
      // The survivor by reference, and by the identifier the sender named it with when it did (ITI-104).
      const survivor = { reference: `Patient/${targetId}`, ...(survivorIdentifier ? { identifier: survivorIdentifier } : {}) };
      await repo.update('Patient', sourceId, { ...source, active: false, link: [...(source.link ?? []), { other: survivor, type: 'replaced-by' }] });
      await repo.update('Patient', targetId, { ...target, link: [...(target.link ?? []), { other: { reference: `Patient/${sourceId}` }, type: 'replaces' }] });
    });
    await this.store.closeOpenReviewsOf(repo.sql, sourceId, 'rejected');
    await this.store.recordDecision(repo.sql, { source_id: sourceId, candidate_id: targetId, golden_id: targetGolden, score: null, grade: null, outcome: `merged (${via})`, fields: [] });
    return targetGolden;
  }

  /** Undoes the source's merge: active again, its own golden record (the one it had, if still there). */
  async unmerge(repo: FhirRepository, sourceId: string): Promise<string> {
    const merge = await this.store.lockCurrentMerge(repo.sql, sourceId);
    if (!merge) throw new FhirError(409, 'FHIR_CONFLICT', `Patient/${sourceId} is not merged`);
    const source = await this.linker.readSource(repo, sourceId);
    const target = await readPatient(repo, merge.target_id);
    const currentGolden = await this.store.goldenOf(repo.sql, sourceId);
    const restored: Patient = withoutLink(source, 'replaced-by', merge.target_id);
    delete restored.active;
    if (merge.previous_active !== null) restored.active = merge.previous_active;
    const golden = await asRegistry(async () => {
      const previous = merge.previous_golden_id ? await readPatient(repo, merge.previous_golden_id) : undefined;
      let goldenId: string;
      if (previous && merge.previous_golden_id !== currentGolden) {
        goldenId = merge.previous_golden_id!;
        await this.linker.moveSource(repo, sourceId, currentGolden, goldenId, 'unmerged');
      } else {
        goldenId = await this.linker.createGolden(repo, sourceId, restored);
        if (currentGolden) await this.linker.moveSource(repo, sourceId, currentGolden, goldenId, 'unmerged');
      }
      await repo.update('Patient', sourceId, restored);
      if (target) await repo.update('Patient', merge.target_id, withoutLink(target, 'replaces', sourceId));
      return goldenId;
    });
    await this.store.closeMerge(repo.sql, merge.id);
    await this.store.recordDecision(repo.sql, { source_id: sourceId, candidate_id: merge.target_id, golden_id: golden, score: null, grade: null, outcome: 'unmerged', fields: [] });
    return golden;
  }
}
