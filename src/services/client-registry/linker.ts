/**
 * Links each source Patient to one golden record, inside the Patient's write transaction:
 * blocking keys → candidates sharing a key → matcher → auto-link (certain), or a new golden
 * record plus a review item (probable), or a new golden record. Every decision is recorded with
 * its score and each field's contribution. Relinking (review accept, manual link/unlink) goes
 * through the same repository, so golden records keep their history.
 */
import type { Patient, Resource } from '@medplum/fhirtypes';
import { FhirError } from '../../fhir/outcome.js';
import type { FhirRepository } from '../../fhir/repository.js';
import type { WriteInterceptor } from '../../fhir/write-interceptors.js';
import { canonicalJson, holdsDemographicsOf, isGolden, newGoldenRecord, primarySourceOf, withDemographicsOf, withGoldenLink, withoutSource, withSource } from './golden-record.js';
import type { Matcher, MatchResult } from './matching/index.js';
import { replacedBy } from './registry-ownership.js';
import { asRegistry, isRegistryWrite } from './request-context.js';
import type { LinkHow, RegistryStore } from './store.js';

/** What the matcher reads: a change to any of these re-runs matching on update. */
const DEMOGRAPHICS = ['identifier', 'name', 'gender', 'birthDate', 'address', 'telecom', 'extension'] as const;

export function demographicsChanged(before: Patient | undefined, after: Patient): boolean {
  if (!before) return false;
  return DEMOGRAPHICS.some((key) => canonicalJson(before[key]) !== canonicalJson(after[key]));
}

/** Links a person chose by hand: re-matching proposes a review instead of moving them. */
const HUMAN_LINKS = new Set(['manual', 'review-accepted', 'merged']);

export interface ScoredCandidate {
  patient: Patient;
  goldenId: string | undefined;
  result: MatchResult;
}

export class GoldenRecordLinker {
  constructor(
    private readonly store: RegistryStore,
    readonly matcher: Matcher,
    private readonly maxCandidates: number,
  ) {}

  interceptor(): WriteInterceptor {
    return {
      name: 'client registry: golden records',
      types: ['Patient'],
      before: async ({ action, id, resource, previous, repo }) => {
        if (action === 'delete') {
          if (!isGolden(previous as Patient | undefined)) await this.detach(repo, id);
          else if ((await this.store.sourcesOf(repo.sql, id)).length) {
            throw new FhirError(409, 'FHIR_CONFLICT', `golden record Patient/${id} still has source records; unlink them (or delete them) first`);
          }
          return;
        }
        const patient = resource as Patient;
        if (isGolden(patient)) return; // only the registry's own writes get here with the tag (registry-ownership.ts)
        // A create has no link yet (a deleted record's link went with it); skip the read.
        const current = action === 'create' ? undefined : await this.store.linkOf(repo.sql, id);
        const rematching = !!current && !isRegistryWrite() && demographicsChanged(previous as Patient | undefined, patient);
        // A merged record is no candidate for anyone: it has no blocking keys until it is unmerged.
        // Matching runs under its keys' locks (store.replaceBlockingKeys).
        await this.store.replaceBlockingKeys(repo.sql, id, replacedBy(patient) ? [] : this.matcher.blockingKeys(patient), !current || rematching);
        let goldenId: string;
        if (!current) goldenId = await this.linkNewSource(repo, id, patient);
        else if (rematching) goldenId = await this.rematch(repo, id, patient, current);
        else goldenId = current.golden_id;
        if (current && goldenId === current.golden_id && demographicsChanged(previous as Patient | undefined, patient)) await this.refreshGolden(repo, goldenId, id, patient);
        return withGoldenLink(patient, goldenId) as Resource;
      },
    };
  }

  /** Candidates sharing a blocking key with the patient, scored, best first (sources only). */
  async scoreCandidates(repo: FhirRepository, patient: Patient, excludeId?: string): Promise<ScoredCandidate[]> {
    const candidates = await this.store.candidates(repo.sql, this.matcher.blockingKeys(patient), excludeId, this.maxCandidates);
    const scored: ScoredCandidate[] = [];
    for (const candidate of candidates) {
      if (isGolden(candidate.patient)) continue;
      scored.push({ patient: candidate.patient, goldenId: candidate.goldenId, result: this.matcher.compare(patient, candidate.patient) });
    }
    return scored.sort((a, b) => b.result.score - a.result.score);
  }

  private async linkNewSource(repo: FhirRepository, id: string, patient: Patient): Promise<string> {
    const best = (await this.scoreCandidates(repo, patient, id))[0];
    const decision = {
      source_id: id, candidate_id: best?.patient.id ?? null, score: best?.result.score ?? null,
      grade: best?.result.grade ?? null, fields: best?.result.fields ?? [],
    };
    if (best?.result.grade === 'certain' && best.goldenId) {
      await this.attach(repo, id, best.goldenId, 'auto');
      await this.store.recordDecision(repo.sql, { ...decision, golden_id: best.goldenId, outcome: 'auto-linked' });
      return best.goldenId;
    }
    const goldenId = await this.createGolden(repo, id, patient);
    const probable = best?.result.grade === 'probable' && best.goldenId;
    const decisionId = await this.store.recordDecision(repo.sql, { ...decision, golden_id: goldenId, outcome: probable ? 'new-golden-review' : 'new-golden' });
    if (probable) {
      await this.store.openReview(repo.sql, { source_id: id, candidate_id: best.patient.id!, golden_id: best.goldenId!, decision_id: decisionId, score: best.result.score });
    }
    return goldenId;
  }

  /**
   * Matching again after a source's demographics changed: a certain match in another golden record
   * moves the source there (its old golden record, if left empty, is deleted); a probable one, or
   * a certain one against a link a person made, opens a review item. Every outcome is a decision.
   */
  private async rematch(repo: FhirRepository, id: string, patient: Patient, current: { golden_id: string; how: string }): Promise<string> {
    const best = (await this.scoreCandidates(repo, patient, id))[0];
    const decision = {
      source_id: id, candidate_id: best?.patient.id ?? null, score: best?.result.score ?? null,
      grade: best?.result.grade ?? null, fields: best?.result.fields ?? [],
    };
    const elsewhere = best?.goldenId && best.goldenId !== current.golden_id ? best.goldenId : undefined;
    const grade = best?.result.grade;
    if (elsewhere && grade === 'certain' && !HUMAN_LINKS.has(current.how)) {
      await this.moveSource(repo, id, current.golden_id, elsewhere, 'rematched');
      await this.store.closeOpenReviewsOf(repo.sql, id, 'rejected');
      await this.store.recordDecision(repo.sql, { ...decision, golden_id: elsewhere, outcome: 'rematch-relinked' });
      return elsewhere;
    }
    if (elsewhere && (grade === 'certain' || grade === 'probable')) {
      const decisionId = await this.store.recordDecision(repo.sql, { ...decision, golden_id: current.golden_id, outcome: 'rematch-review' });
      await this.store.openReview(repo.sql, { source_id: id, candidate_id: best!.patient.id!, golden_id: elsewhere, decision_id: decisionId, score: best!.result.score });
      return current.golden_id;
    }
    await this.store.recordDecision(repo.sql, { ...decision, golden_id: current.golden_id, outcome: 'rematch-kept' });
    return current.golden_id;
  }

  /** Moves a source's golden link (not the source itself) from one golden record to another. */
  async moveSource(repo: FhirRepository, sourceId: string, from: string | undefined, to: string, how: LinkHow): Promise<void> {
    await this.attach(repo, sourceId, to, how);
    if (from && from !== to) await this.dropSourceFromGolden(repo, from, sourceId);
  }

  async createGolden(repo: FhirRepository, sourceId: string, source: Patient): Promise<string> {
    const created = await asRegistry(() => repo.create(newGoldenRecord(sourceId, source), 'Patient'));
    await this.store.setLink(repo.sql, sourceId, created.resource.id!, 'new');
    return created.resource.id!;
  }

  private async attach(repo: FhirRepository, sourceId: string, goldenId: string, how: LinkHow): Promise<void> {
    const golden = await this.readGolden(repo, goldenId);
    await this.store.setLink(repo.sql, sourceId, goldenId, how);
    const linked = withSource(golden, sourceId);
    if (linked !== golden) await asRegistry(() => repo.update('Patient', goldenId, linked));
  }

  /** Removes a source from its golden record; a golden record left without sources is deleted. */
  private async detach(repo: FhirRepository, sourceId: string): Promise<void> {
    const goldenId = await this.store.goldenOf(repo.sql, sourceId);
    await this.store.forgetSource(repo.sql, sourceId);
    if (goldenId) await this.dropSourceFromGolden(repo, goldenId, sourceId);
  }

  /**
   * Removes a source from its golden record; a golden record left without sources is deleted. When
   * the source was the primary one, the next source's demographics take its place.
   */
  private async dropSourceFromGolden(repo: FhirRepository, goldenId: string, sourceId: string): Promise<void> {
    const golden = await readPatient(repo, goldenId);
    if (!golden) return;
    let remaining = withoutSource(golden, sourceId);
    if (!remaining.link?.length) {
      await asRegistry(() => repo.delete('Patient', goldenId));
      return;
    }
    const nextPrimary = primarySourceOf(golden) === sourceId ? primarySourceOf(remaining) : undefined;
    const successor = nextPrimary ? await readPatient(repo, nextPrimary) : undefined;
    if (successor) remaining = withDemographicsOf(remaining, successor);
    await asRegistry(() => repo.update('Patient', goldenId, remaining));
  }

  /** A primary source's new demographics become its golden record's (a new version in its history). */
  private async refreshGolden(repo: FhirRepository, goldenId: string, sourceId: string, source: Patient): Promise<void> {
    const golden = await readPatient(repo, goldenId);
    if (!golden || primarySourceOf(golden) !== sourceId || holdsDemographicsOf(golden, source)) return;
    await asRegistry(() => repo.update('Patient', goldenId, withDemographicsOf(golden, source)));
  }

  /** Moves a source to another golden record (review accept, manual link). */
  async relink(repo: FhirRepository, sourceId: string, goldenId: string, how: LinkHow): Promise<void> {
    const source = await this.readSource(repo, sourceId);
    const previous = await this.store.goldenOf(repo.sql, sourceId);
    if (previous === goldenId) return;
    await this.attach(repo, sourceId, goldenId, how);
    if (previous) await this.dropSourceFromGolden(repo, previous, sourceId);
    await asRegistry(() => repo.update('Patient', sourceId, source)); // the interceptor sets its refer link to the new golden record
  }

  /** Gives a source a golden record of its own (manual unlink). */
  async unlink(repo: FhirRepository, sourceId: string): Promise<string> {
    const source = await this.readSource(repo, sourceId);
    const previous = await this.store.goldenOf(repo.sql, sourceId);
    if (previous && (await this.store.sourcesOf(repo.sql, previous)).length === 1) return previous; // already alone
    const goldenId = await this.createGolden(repo, sourceId, source);
    if (previous) await this.dropSourceFromGolden(repo, previous, sourceId);
    await asRegistry(() => repo.update('Patient', sourceId, source));
    return goldenId;
  }

  async readSource(repo: FhirRepository, id: string): Promise<Patient> {
    const patient = await readPatient(repo, id);
    if (!patient) throw new FhirError(404, 'FHIR_NOT_FOUND', `Patient/${id} does not exist`);
    if (isGolden(patient)) throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `Patient/${id} is a golden record, not a source record`);
    return patient;
  }

  async readGolden(repo: FhirRepository, id: string): Promise<Patient> {
    const patient = await readPatient(repo, id);
    if (!patient) throw new FhirError(404, 'FHIR_NOT_FOUND', `golden record Patient/${id} does not exist`);
    if (!isGolden(patient)) throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `Patient/${id} is a source record, not a golden record`);
    return patient;
  }
}

/** The patient, or undefined when it does not exist (yet) or was deleted. */
export async function readPatient(repo: FhirRepository, id: string): Promise<Patient | undefined> {
  try {
    return (await repo.read('Patient', id)) as Patient;
  } catch (error) {
    if (error instanceof FhirError && (error.status === 404 || error.status === 410)) return undefined;
    throw error;
  }
}
