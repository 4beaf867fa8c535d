/**
 * The registry's own operations on Patient, under its FHIR base (so they go through the same
 * channel and authentication as everything else):
 *
 *   GET  Patient/$cr-review[?status=open|accepted|rejected|all&_count=n]   the review queue
 *   POST Patient/$cr-review-accept  (item=<id>)   link the source to the candidate's golden record
 *   POST Patient/$cr-review-reject  (item=<id>)   keep the source's own golden record
 *   POST Patient/{id}/$cr-link      (golden=Patient/<id>)   move a source to a golden record by hand
 *   POST Patient/{id}/$cr-unlink    give a source a golden record of its own
 *   GET  Patient/{id}/$cr-explain   every match decision of a source: score, grade, field contributions
 *
 * All but $cr-explain are a data steward's (stewards.ts): they move records between people.
 */
import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { FhirOperation, OperationContext } from '../../fhir/operations/registry.js';
import { parameterValue } from '../../fhir/operations/registry.js';
import { FhirError, badRequest } from '../../fhir/outcome.js';
import type { GoldenRecordLinker } from './linker.js';
import type { DecisionRow, RegistryStore, ReviewRow } from './store.js';
import { requireSteward } from './stewards.js';

const REVIEW_PAGE = 100;
const STATUSES = new Set(['open', 'accepted', 'rejected', 'all']);

const ref = (id: string | null) => (id ? { reference: `Patient/${id}` } : undefined);
const part = (name: string, value: Omit<ParametersParameter, 'name'> | undefined): ParametersParameter[] => (value ? [{ name, ...value }] : []);

function reviewItem(row: ReviewRow): ParametersParameter {
  return {
    name: 'item',
    part: [
      { name: 'id', valueString: row.id },
      { name: 'status', valueCode: row.status },
      { name: 'source', valueReference: ref(row.source_id)! },
      { name: 'candidate', valueReference: ref(row.candidate_id)! },
      { name: 'golden', valueReference: ref(row.golden_id)! },
      { name: 'score', valueDecimal: Number(row.score) },
      { name: 'decision', valueString: row.decision_id },
      { name: 'created', valueInstant: new Date(row.created_at).toISOString() },
    ],
  };
}

function decisionParameter(row: DecisionRow): ParametersParameter {
  return {
    name: 'decision',
    part: [
      { name: 'id', valueString: row.id },
      { name: 'outcome', valueCode: row.outcome },
      ...part('candidate', row.candidate_id ? { valueReference: ref(row.candidate_id) } : undefined),
      ...part('golden', row.golden_id ? { valueReference: ref(row.golden_id) } : undefined),
      ...part('score', row.score !== null ? { valueDecimal: Number(row.score) } : undefined),
      ...part('grade', row.grade ? { valueCode: row.grade } : undefined),
      { name: 'decided', valueInstant: new Date(row.decided_at).toISOString() },
      ...row.fields.map((f) => ({
        name: 'field',
        part: [
          { name: 'name', valueString: f.field },
          { name: 'comparator', valueString: f.comparator },
          { name: 'similarity', valueDecimal: f.similarity },
          { name: 'weight', valueDecimal: f.weight },
          ...part('a', f.a !== undefined ? { valueString: f.a } : undefined),
          ...part('b', f.b !== undefined ? { valueString: f.b } : undefined),
        ],
      })),
    ],
  };
}

function itemId(context: OperationContext): string {
  const id = parameterValue(context.parameters, 'item');
  if (!id || !/^\d{1,18}$/.test(id)) throw badRequest('give the review item\'s id as parameter "item" (a number from $cr-review)');
  return id;
}

function goldenId(context: OperationContext): string {
  const value = parameterValue(context.parameters, 'golden') ?? context.parameters.parameter?.find((p) => p.name === 'golden')?.valueReference?.reference;
  const id = value ? /^(?:Patient\/)?([A-Za-z0-9\-.]{1,64})$/.exec(value)?.[1] : undefined;
  if (!id) throw badRequest('give the golden record as parameter "golden" (Patient/<id>)');
  return id;
}

const linked = (golden: string): Parameters => ({ resourceType: 'Parameters', parameter: [{ name: 'golden', valueReference: { reference: `Patient/${golden}` } }] });

export function registryOperations(store: RegistryStore, linker: GoldenRecordLinker): FhirOperation[] {
  const resolve = (status: 'accepted' | 'rejected'): FhirOperation['run'] => async (context) => {
    requireSteward(`Patient/$cr-review-${status === 'accepted' ? 'accept' : 'reject'}`);
    return context.repo.transaction(async (repo) => {
      const item = await store.lockReview(repo.sql, itemId(context));
      if (!item) throw new FhirError(404, 'FHIR_NOT_FOUND', 'no such review item');
      if (item.status !== 'open') throw new FhirError(409, 'FHIR_CONFLICT', `review item ${item.id} is already ${item.status}`);
      let golden = (await store.goldenOf(repo.sql, item.source_id)) ?? item.golden_id;
      if (status === 'accepted') {
        // The candidate's golden record now (it may have moved since the item was opened).
        golden = (await store.goldenOf(repo.sql, item.candidate_id)) ?? item.golden_id;
        await linker.relink(repo, item.source_id, golden, 'review-accepted');
      }
      await store.resolveReview(repo.sql, item.id, status);
      await store.recordDecision(repo.sql, {
        source_id: item.source_id, candidate_id: item.candidate_id, golden_id: golden, score: item.score, grade: 'probable', outcome: `review-${status}`, fields: [],
      });
      return linked(golden);
    });
  };

  return [
    {
      name: 'cr-review', levels: ['type'], resourceTypes: ['Patient'], affectsState: false,
      async run(context) {
        requireSteward('Patient/$cr-review');
        const status = parameterValue(context.parameters, 'status') ?? 'open';
        if (!STATUSES.has(status)) throw badRequest('status must be open, accepted, rejected or all');
        const countText = parameterValue(context.parameters, '_count');
        if (countText !== undefined && !/^\d{1,4}$/.test(countText)) throw badRequest('_count must be a positive integer');
        const count = Math.max(1, Math.min(Number(countText ?? REVIEW_PAGE), 1000));
        const rows = await store.reviews(context.repo.sql, status === 'all' ? undefined : (status as ReviewRow['status']), count);
        return { resourceType: 'Parameters', parameter: rows.map(reviewItem) } as Parameters;
      },
    },
    { name: 'cr-review-accept', levels: ['type'], resourceTypes: ['Patient'], affectsState: true, run: resolve('accepted') },
    { name: 'cr-review-reject', levels: ['type'], resourceTypes: ['Patient'], affectsState: true, run: resolve('rejected') },
    {
      name: 'cr-link', levels: ['instance'], resourceTypes: ['Patient'], affectsState: true,
      async run(context) {
        requireSteward('Patient/$cr-link');
        const golden = goldenId(context);
        return context.repo.transaction(async (repo) => {
          await linker.relink(repo, context.id!, golden, 'manual');
          await store.closeOpenReviewsOf(repo.sql, context.id!, 'accepted');
          await store.recordDecision(repo.sql, { source_id: context.id!, candidate_id: null, golden_id: golden, score: null, grade: null, outcome: 'manual-link', fields: [] });
          return linked(golden);
        });
      },
    },
    {
      name: 'cr-unlink', levels: ['instance'], resourceTypes: ['Patient'], affectsState: true,
      async run(context) {
        requireSteward('Patient/$cr-unlink');
        return context.repo.transaction(async (repo) => {
          const golden = await linker.unlink(repo, context.id!);
          await store.closeOpenReviewsOf(repo.sql, context.id!, 'rejected');
          await store.recordDecision(repo.sql, { source_id: context.id!, candidate_id: null, golden_id: golden, score: null, grade: null, outcome: 'manual-unlink', fields: [] });
          return linked(golden);
        });
      },
    },
    {
      name: 'cr-explain', levels: ['instance'], resourceTypes: ['Patient'], affectsState: false,
      async run(context) {
        await linker.readSource(context.repo, context.id!);
        const rows = await store.decisionsOf(context.repo.sql, context.id!);
        const golden = await store.goldenOf(context.repo.sql, context.id!);
        return { resourceType: 'Parameters', parameter: [...part('golden', golden ? { valueReference: ref(golden) } : undefined), ...rows.map(decisionParameter)] } as Parameters;
      },
    },
  ];
}
