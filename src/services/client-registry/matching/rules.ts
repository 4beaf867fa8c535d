/**
 * The rules file: which fields to compare and how, deterministic rules, thresholds and blocking.
 * JSON or YAML, validated once here (zod) with a reason per field; trusted everywhere else.
 * Reference: docs/client-registry.md, section "Matching: rules file, tuning, figures".
 */
import { parseFhirPath } from '@medplum/core';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InstantError } from '../../../common/errors.js';
import { COMPARATORS, type ComparatorName } from './comparators.js';
import { DEFAULT_NORMALISE, NORMALISE_STEPS, type NormaliseStep } from './normalise.js';

const fhirPath = z.string().min(1).superRefine((expression, context) => {
  try {
    parseFhirPath(expression);
  } catch (error) {
    context.addIssue({ code: z.ZodIssueCode.custom, message: `not a FHIRPath expression (${error instanceof Error ? error.message : String(error)})` });
  }
});

const probability = z.number().gt(0, 'must be above 0').lt(1, 'must be below 1');
const normaliseSteps = z.array(z.enum(NORMALISE_STEPS as [NormaliseStep, ...NormaliseStep[]]));

const fieldSchema = z.object({
  /** Name shown in explanations. */
  name: z.string().min(1),
  /** FHIRPath on the Patient giving the values compared (several values: the best pair counts). */
  path: fhirPath,
  comparator: z.enum(COMPARATORS),
  /** P(agree | same person) and P(agree | different people). */
  m: probability,
  u: probability,
  /** Similarity below this is a disagreement; above, agreement weight scaled by similarity. */
  threshold: z.number().min(0).max(1).optional(),
  /** Weight when either side has no value (0: the field says nothing). */
  missingWeight: z.number().default(0),
  /** Applied to each value before comparison; default: lowercase, no diacritics or punctuation. */
  normalise: normaliseSteps.optional(),
  toleranceDays: z.number().int().min(0).max(3660).default(0),
  transpositionSimilarity: z.number().min(0).max(1).default(0.9),
  dateTypos: z.boolean().default(true),
  /** Another field whose values may be entered in this one's place (given and family swapped): the crossed comparison counts when it scores higher. */
  swapWith: z.string().min(1).optional(),
}).strict().refine((field) => field.m > field.u, { message: 'm must be greater than u (agreement must be likelier for the same person)', path: ['m'] });

const identifierSystems = z.array(z.string().min(1)).min(1);
const deterministicSchema = z.discriminatedUnion('kind', [
  /** Same value in one of these identifier systems: the same person. */
  z.object({ name: z.string().min(1), kind: z.literal('same-identifier'), systems: identifierSystems, grade: z.enum(['certain', 'probable']).default('certain') }).strict(),
  /** Both have an identifier in one of these (unique) systems and no value in common: not the same person. */
  z.object({ name: z.string().min(1), kind: z.literal('different-identifier'), systems: identifierSystems, grade: z.literal('certainly-not').default('certainly-not') }).strict(),
]);

const BLOCKING_TRANSFORMS = ['value', 'soundex', 'double-metaphone', 'year', 'initial', 'prefix'] as const;
const blockingPartSchema = z.object({
  path: fhirPath,
  transform: z.enum(BLOCKING_TRANSFORMS).default('value'),
  /** prefix: how many characters. */
  length: z.number().int().min(1).max(64).optional(),
  normalise: normaliseSteps.optional(),
}).strict().refine((part) => part.transform !== 'prefix' || part.length !== undefined, { message: 'a prefix transform needs a length', path: ['length'] });

const blockingPassSchema = z.object({
  /** Name of the pass; prefixes its keys so passes never collide. */
  name: z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only'),
  /** The key is all parts joined: a patient missing any part gets no key from this pass. */
  keys: z.array(blockingPartSchema).min(1),
}).strict();

const rulesSchema = z.object({
  description: z.string().optional(),
  fields: z.array(fieldSchema).min(1),
  deterministic: z.array(deterministicSchema).default([]),
  thresholds: z.object({ autoMatch: z.number(), review: z.number(), possible: z.number() }).strict()
    .refine((t) => t.autoMatch >= t.review && t.review >= t.possible, { message: 'thresholds must be ordered autoMatch >= review >= possible' }),
  blocking: z.array(blockingPassSchema).min(1),
}).strict().superRefine((rules, context) => {
  const seen = new Set<string>();
  rules.fields.forEach((field, index) => {
    if (seen.has(field.name)) context.addIssue({ code: z.ZodIssueCode.custom, message: `field name "${field.name}" is used twice`, path: ['fields', index, 'name'] });
    seen.add(field.name);
  });
  rules.fields.forEach((field, index) => {
    if (field.swapWith === undefined) return;
    if (field.swapWith === field.name || !rules.fields.some((other) => other.name === field.swapWith)) {
      context.addIssue({ code: z.ZodIssueCode.custom, message: `swapWith must name another field (no field "${field.swapWith}")`, path: ['fields', index, 'swapWith'] });
    }
  });
  const passes = new Set<string>();
  rules.blocking.forEach((pass, index) => {
    if (passes.has(pass.name)) context.addIssue({ code: z.ZodIssueCode.custom, message: `blocking pass "${pass.name}" is used twice`, path: ['blocking', index, 'name'] });
    passes.add(pass.name);
  });
});

type ParsedRules = z.output<typeof rulesSchema>;
export type MatchField = Omit<ParsedRules['fields'][number], 'threshold' | 'normalise'> & { comparator: ComparatorName; threshold: number; normalise: NormaliseStep[] };
export type DeterministicRule = ParsedRules['deterministic'][number];
export type BlockingPass = ParsedRules['blocking'][number];
export type BlockingTransform = (typeof BLOCKING_TRANSFORMS)[number];
/** Parsed and validated rules, defaults filled in. */
export interface MatchRules {
  description?: string;
  fields: MatchField[];
  deterministic: DeterministicRule[];
  thresholds: { autoMatch: number; review: number; possible: number };
  blocking: BlockingPass[];
}
/** What a rules file may say (defaults not yet applied). */
export type MatchRulesInput = z.input<typeof rulesSchema>;

/** Where agreement starts when a field gives no threshold: yes/no comparators agree only at 1. */
const DEFAULT_THRESHOLDS: Record<ComparatorName, number> = {
  'exact': 1, 'identifier': 1, 'soundex': 1, 'double-metaphone': 1,
  'jaro-winkler': 0.8, 'damerau-levenshtein': 0.6, 'prefix': 0.5, 'date': 0.75,
};

/** Identifiers and dates keep their case and punctuation ("urn:oid:1.2|A-17", "1990-02-03"). */
function defaultNormalise(comparator: ComparatorName): NormaliseStep[] {
  if (comparator === 'identifier' || comparator === 'date') return ['collapse-spaces'];
  return [...DEFAULT_NORMALISE];
}

/** Thrown for a rules file that cannot be used; `reasons` holds one line per problem ("fields.2.m: must be below 1"). */
export class MatchRulesError extends InstantError {
  constructor(readonly reasons: string[], fileName?: string) {
    super('CR_RULES_INVALID', `match rules${fileName ? ` ${fileName}` : ''} are invalid: ${reasons.join('; ')}`,
      'fix the named fields; the rules file format is in docs/client-registry.md');
    this.name = 'MatchRulesError';
  }
}

/** Validates rules given as an object (already parsed JSON/YAML). */
export function validateMatchRules(input: unknown, fileName?: string): MatchRules {
  const result = rulesSchema.safeParse(input);
  if (!result.success) {
    throw new MatchRulesError(result.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`), fileName);
  }
  const rules = result.data;
  return {
    ...rules,
    fields: rules.fields.map((field) => ({
      ...field,
      threshold: field.threshold ?? DEFAULT_THRESHOLDS[field.comparator],
      normalise: field.normalise ?? defaultNormalise(field.comparator),
    })),
  };
}

/** Parses a rules file: JSON when the name ends in .json (or the text starts with "{"), YAML otherwise. */
export function parseMatchRules(text: string, fileName?: string): MatchRules {
  let input: unknown;
  try {
    const json = fileName ? fileName.toLowerCase().endsWith('.json') : text.trimStart().startsWith('{');
    input = json ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new MatchRulesError([`not valid ${fileName?.toLowerCase().endsWith('.json') ? 'JSON' : 'JSON or YAML'} (${error instanceof Error ? error.message : String(error)})`], fileName);
  }
  return validateMatchRules(input, fileName);
}
