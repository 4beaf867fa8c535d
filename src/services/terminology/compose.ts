/**
 * A ValueSet's compose turned into one SQL condition on a concept row `c` of the concept table
 * (include: system, listed concepts, filters and imported value sets, AND-ed; includes OR-ed;
 * excludes AND NOT), so an expansion, a membership check and a page of a text search are each
 * one statement the planner can drive from the most selective index (the closure for is-a, the
 * word index for a text filter). Concepts listed from code systems this service does not hold
 * cannot be in that table: they travel beside it as `listed` concepts.
 */
import { createHash } from 'node:crypto';
import type { CodeSystem, ValueSet, ValueSetComposeInclude, ValueSetComposeIncludeFilter } from '@medplum/fhirtypes';
import type { FhirRepository } from '../../fhir/repository.js';
import { FhirError, tooCostly } from '../../fhir/outcome.js';
import type { ConceptStore, StoredCodeSystem } from './concept-store.js';
import { badParameter, splitCanonical } from './parameters.js';
import { findByUrl, unknownTerminology } from './resolve.js';
import { assertSafeRegex } from './regex-guard.js';
import { assertValueSetShape } from './shapes.js';

/** Value sets importing value sets: deeper than this is refused (and cycles are caught). */
const MAX_NESTING = 10;

export interface ListedConcept {
  system: string;
  version?: string;
  code: string;
  display?: string;
  /** The designations the value set gives it (other displays, in other languages). */
  designations?: string[];
}

export interface CompiledCompose {
  /** SQL condition on `c` (the concept table). */
  where: string;
  params: unknown[];
  /** Concepts of code systems not held here, listed by the compose. */
  listed: ListedConcept[];
  /** The code systems (held here) the compose draws on. */
  systems: StoredCodeSystem[];
  /** Whole code systems and nothing else (no listed concepts, filters, imports, excludes or compose.inactive false). */
  wholeSystems: boolean;
  /**
   * Displays and designations the compose gives its listed concepts of systems held here
   * (include.concept.display: "the text to display for this concept in the context of this
   * value set"), by conceptKey(csid, code).
   */
  conceptTexts: Map<string, ConceptText>;
}

export interface ConceptText {
  display?: string;
  designation?: Array<{ language?: string; use?: { system?: string; code?: string }; value: string }>;
}

/** The key of a stored concept in CompiledCompose.conceptTexts (codes of case-insensitive systems lower-cased). */
export function conceptKey(system: { csid: number; caseSensitive: boolean }, code: string): string {
  return `${system.csid}\u0000${system.caseSensitive ? code : code.toLowerCase()}`;
}

/** A POSIX character class inside a bracket expression, as PostgreSQL's regular expressions have them. */
const POSIX_CLASS = /\[:(?:alnum|alpha|ascii|blank|cntrl|digit|graph|lower|print|punct|space|upper|word|xdigit):\]/g;

/** Filter properties every code system has: the concept's own fields and the FHIR concept-properties. */
const BUILT_IN_PROPERTIES = new Set(['code', 'display', 'definition', 'parent', 'child', 'inactive', 'status', 'deprecated', 'notSelectable', 'deprecationDate', 'retirementDate']);

const key = (c: { system: string; code: string }): string => `${c.system}\u0000${c.code}`;

interface Compiled {
  where: string;
  listed: ListedConcept[];
}

/**
 * The code system versions an $expand call sets (R4 `system-version`, `check-system-version`,
 * `force-system-version`, each `system|version`), by system url, for every include of the value
 * set and of those it imports.
 */
export interface SystemVersionRules {
  /** Used where an include names no version. */
  defaults: ReadonlyMap<string, string>;
  /** An include naming another version is an error. */
  checks: ReadonlyMap<string, string>;
  /** Used whatever version an include names. */
  forced: ReadonlyMap<string, string>;
}

/** What one compiled value set cost to compile (work) and will cost to run (cost), charged again on reuse. */
interface Charges {
  work: number;
  cost: number;
}

/** A filter's weight in the cost model: an equality or an index probe 1, a regex more (regex-guard.ts), a value list by its length. */
function filterWeight(filter: ValueSetComposeIncludeFilter): number {
  const { op, value } = filter as { op?: unknown; value?: unknown };
  if (op === 'regex' && typeof value === 'string') return assertSafeRegex(value);
  if ((op === 'in' || op === 'not-in') && typeof value === 'string') return 1 + Math.floor(value.length / 1_000);
  return 1;
}

class Compiler {
  readonly params: unknown[] = [];
  readonly systems = new Map<number, StoredCodeSystem>();
  readonly conceptTexts = new Map<string, ConceptText>();
  wholeSystems = true;
  /** Imported value sets compiled in this request, with what each cost (reuse costs it again: its SQL is repeated). */
  private readonly compiled = new Map<string, Compiled & Charges>();
  private work = 0;
  /** Estimated rows times conditions the statement will evaluate (TERMINOLOGY_MAX_COMPOSE_COST). */
  private cost = 0;

  constructor(private readonly repo: FhirRepository, private readonly store: ConceptStore, private readonly versionRules?: SystemVersionRules) {}

  /** The version of a code system an include uses: as forced, as named (checked), or the default. */
  private includeVersion(system: string, named: string | undefined): string | undefined {
    const rules = this.versionRules;
    if (!rules) return named;
    const forced = rules.forced.get(system);
    if (forced) return forced;
    const checked = rules.checks.get(system);
    if (named && checked && named !== checked) {
      throw badParameter(`the value set draws on version ${named.slice(0, 40)} of code system ${system.slice(0, 200)}, and check-system-version asks for version ${checked.slice(0, 40)}`);
    }
    return named ?? rules.defaults.get(system);
  }

  /** Counts work against TERMINOLOGY_MAX_COMPOSE_WORK, so value sets importing each other widely cannot cost exponential time. */
  private charge(units: number): void {
    this.work += units;
    const max = this.store.limits.terminologyMaxComposeWork;
    if (this.work > max) throw tooCostly(`the value set and those it imports are too large to compile (over ${max} includes, filters and imports; TERMINOLOGY_MAX_COMPOSE_WORK)`);
  }

  /**
   * Counts the estimated cost of running the compose against TERMINOLOGY_MAX_COMPOSE_COST, before
   * any statement runs: includes are OR-ed, so each row of each system drawn on may meet every
   * include's conditions, and a statement past INSTANT_DB_STATEMENT_TIMEOUT_MS restarts the embedded
   * database (503 for every service meanwhile).
   */
  private chargeCost(units: number, culprit?: { system: StoredCodeSystem; filters: number }): void {
    this.cost += units;
    const max = this.store.limits.terminologyMaxComposeCost;
    if (this.cost <= max) return;
    const where = culprit
      ? ` (reached at an include of ${culprit.system.url.slice(0, 200)}, ${culprit.system.conceptCount} concepts, with ${culprit.filters} filter${culprit.filters === 1 ? '' : 's'})` : '';
    throw tooCostly(`the value set is too costly to run: its includes and filters over large code systems come to more than ${max} (TERMINOLOGY_MAX_COMPOSE_COST)${where}; ` +
      'narrow it: fewer includes or filters per code system (one include with an "in" filter rather than one include per value), hierarchy filters (is-a) or listed concepts rather than regex filters, or split it into several value sets');
  }

  p(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  get schema(): string {
    return this.store.schema;
  }

  async valueSet(valueSet: ValueSet, trail: string[]): Promise<{ where: string; listed: ListedConcept[] }> {
    if (trail.length > MAX_NESTING) throw badParameter(`value sets import each other more than ${MAX_NESTING} deep: ${trail.slice(0, 4).join(' -> ')} ...`);
    assertValueSetShape(valueSet, `ValueSet ${String(valueSet.url ?? valueSet.id ?? 'inline').slice(0, 200)}`);
    const compose = valueSet.compose;
    if (!compose?.include?.length) {
      // A value set stored with its expansion only: its listed concepts are the members.
      const listed = (valueSet.expansion?.contains ?? []).filter((c) => c.system && c.code)
        .map((c) => ({ system: c.system!, version: c.version, code: c.code!, display: c.display }));
      if (!valueSet.expansion) throw new FhirError(422, 'FHIR_BAD_REQUEST', `ValueSet ${valueSet.url ?? valueSet.id} has neither a compose with an include nor an expansion to expand`);
      return this.listedOnly(listed);
    }
    if (compose.exclude?.length || compose.inactive === false) this.wholeSystems = false;
    // One after the other: imported value sets are compiled once and their work counted in order.
    const includes: Compiled[] = [];
    for (const inc of compose.include) includes.push(await this.include(inc, trail, true));
    const excludes: Compiled[] = [];
    for (const exc of compose.exclude ?? []) excludes.push(await this.include(exc, trail, false));
    const excluded = new Set(excludes.flatMap((e) => e.listed).map(key));
    const listed = dedupe(includes.flatMap((i) => i.listed)).filter((c) => !excluded.has(key(c)));
    let where = `(${includes.map((i) => i.where).join(' OR ')})`;
    if (excludes.length) where = `(${where} AND NOT (${excludes.map((e) => e.where).join(' OR ')}))`;
    // compose.inactive false: "whether inactive codes are in the value set" — they are not.
    if (compose.inactive === false) where = `(${where} AND c.active)`;
    // Listed concepts of systems held here are matched in SQL by the include; keep only the others.
    return { where, listed };
  }

  /** An imported value set, compiled once per request (a cycle through it was already refused then). */
  private async imported(canonical: string, trail: string[]): Promise<Compiled> {
    const known = this.compiled.get(canonical);
    if (known) {
      this.charge(known.work);
      this.chargeCost(known.cost);
      return known;
    }
    this.charge(1);
    const before = this.work;
    const costBefore = this.cost;
    const { url, version } = splitCanonical(canonical);
    // An implicit value set of a code system (`<system>?fhir_vs`, `?fhir_vs=isa/<code>`) is no resource.
    const nested = implicitValueSet(canonical) ?? await findByUrl<ValueSet>(this.repo, 'ValueSet', url, version);
    if (!nested) throw unknownTerminology(`the value set imports ${canonical.slice(0, 200)}, which this terminology service does not hold`);
    const compiled = await this.valueSet(nested, [...trail, canonical]);
    this.compiled.set(canonical, { ...compiled, work: this.work - before + 1, cost: this.cost - costBefore });
    return compiled;
  }

  private listedOnly(listed: ListedConcept[]): { where: string; listed: ListedConcept[] } {
    return { where: 'false', listed };
  }

  private async include(inc: ValueSetComposeInclude, trail: string[], including: boolean): Promise<{ where: string; listed: ListedConcept[] }> {
    this.charge(1 + (inc.filter?.length ?? 0) + Math.ceil((inc.concept?.length ?? 0) / 100));
    const maxFilters = this.store.limits.terminologyMaxIncludeFilters;
    if ((inc.filter?.length ?? 0) > maxFilters) {
      throw tooCostly(`a compose include has ${inc.filter!.length} filters, more than ${maxFilters} (TERMINOLOGY_MAX_INCLUDE_FILTERS): each is a join; use fewer, or an "in" filter listing the values`);
    }
    const conditions: string[] = [];
    if (inc.concept?.length || inc.filter?.length || inc.valueSet?.length || !inc.system) this.wholeSystems = false;
    let listed: ListedConcept[] | undefined; // undefined: no part constrains listed concepts yet
    let sqlOnly = false;
    if (inc.system) {
      const version = this.includeVersion(inc.system, inc.version);
      const system = await this.store.findSystem(this.repo.sql, inc.system, version);
      // A code system held in name only (content not-present and no concepts: SNOMED CT stored as a
      // stub) cannot confirm the codes a value set lists: they are members as listed, as when it is not held.
      const nameOnly = system?.content === 'not-present' && system.conceptCount === 0;
      if (!system || (nameOnly && inc.concept?.length && !inc.filter?.length)) {
        if (inc.concept?.length && !inc.filter?.length) {
          listed = inc.concept.filter((c) => c.code).map((c) => {
            const designations = (c.designation ?? []).map((d) => d.value).filter((v): v is string => typeof v === 'string' && v !== '');
            return { system: inc.system!, version, code: c.code, display: c.display, ...(designations.length ? { designations } : {}) };
          });
          conditions.push('false');
        } else {
          const held = version ? (await this.store.versionsOf(this.repo.sql, inc.system)).filter((v) => v !== '') : [];
          throw unknownTerminology(`the value set draws on code system ${inc.system.slice(0, 200)}${version ? `|${version}` : ''}, which this terminology service does not hold` +
            (held.length ? ` (versions held: ${held.slice(0, 10).join(', ')})` : ''));
        }
      } else {
        sqlOnly = true;
        const filters = inc.filter ?? [];
        for (const filter of filters) this.assertFilterValues(filter);
        this.chargeCost(system.conceptCount * (1 + filters.reduce((w, f) => w + filterWeight(f), 0)), { system, filters: filters.length });
        this.systems.set(system.csid, system);
        conditions.push(`c.csid = ${this.p(system.csid)}`);
        if (inc.concept?.length) {
          const listedCodes = this.p(inc.concept.map((c) => c.code));
          conditions.push(system.caseSensitive ? `c.code = ANY(${listedCodes}::text[])` : `lower(c.code) = ANY(SELECT lower(v) FROM unnest(${listedCodes}::text[]) v)`);
          if (including) this.keepConceptTexts(system, inc.concept);
        }
        for (const filter of inc.filter ?? []) conditions.push(await this.filter(system, filter));
      }
    } else if (inc.concept?.length || inc.filter?.length) {
      throw badParameter('a compose include lists concepts or filters without a system');
    }
    for (const canonical of inc.valueSet ?? []) {
      if (trail.includes(canonical)) throw badParameter(`value set ${canonical.slice(0, 200)} imports itself (through ${trail.join(' -> ').slice(0, 300)})`);
      const compiled = await this.imported(canonical, trail);
      conditions.push(compiled.where);
      listed = listed === undefined ? compiled.listed : intersect(listed, compiled.listed);
    }
    if (!conditions.length) throw badParameter('a compose include names neither a system nor a value set');
    return { where: `(${conditions.join(' AND ')})`, listed: sqlOnly ? [] : listed ?? [] };
  }

  /** The display and designations an include gives its concepts (the first include giving one wins). */
  private keepConceptTexts(system: StoredCodeSystem, concepts: NonNullable<ValueSetComposeInclude['concept']>): void {
    for (const c of concepts) {
      if (!c.code || (!c.display && !c.designation?.length)) continue;
      const k = conceptKey(system, c.code);
      if (this.conceptTexts.has(k)) continue;
      const designation = (c.designation ?? []).filter((d) => typeof d.value === 'string')
        .map((d) => ({ ...(d.language ? { language: d.language } : {}), ...(d.use?.code ? { use: { ...(d.use.system ? { system: d.use.system } : {}), code: d.use.code } } : {}), value: d.value }));
      this.conceptTexts.set(k, { ...(c.display ? { display: c.display } : {}), ...(designation.length ? { designation } : {}) });
    }
  }

  private async filter(system: StoredCodeSystem, filter: ValueSetComposeIncludeFilter): Promise<string> {
    const { property, op, value } = filter as { property?: string; op?: string; value?: string };
    if (!property || !op || value === undefined) throw badParameter('a compose filter needs property, op and value');
    const s = this.schema;
    // Pushed where used: every numbered parameter must appear in the statement.
    const csid = (): string => this.p(system.csid);
    // The code's number is looked up inside the statement (no round trip); an unknown code matches nothing.
    const ordOf = (code: string): string => system.caseSensitive
      ? `(SELECT ord FROM ${s}.concept WHERE csid = ${csid()} AND code = ${this.p(code)})`
      : `(SELECT ord FROM ${s}.concept WHERE csid = ${csid()} AND lower(code) = lower(${this.p(code)}) LIMIT 1)`;
    const closure = async (column: 'ancestor' | 'descendant', code: string, extra = ''): Promise<string> => {
      const other = column === 'ancestor' ? 'descendant' : 'ancestor';
      return `c.ord IN (SELECT ${other} FROM ${s}.closure WHERE csid = ${csid()} AND ${column} = ${ordOf(code)}${extra})`;
    };
    const hierarchy = property === 'concept' || property === 'code';
    // Outside the hierarchy operators, `concept` means the code itself (FHIR filter property "concept").
    if (!['is-a', 'descendent-of', 'is-not-a', 'generalizes'].includes(op)) {
      if (property === 'concept') return this.filter(system, { ...filter, property: 'code' });
      await this.assertKnownProperty(system, property);
    }
    switch (op) {
      case 'is-a':
        if (!hierarchy) break;
        return closure('ancestor', value);
      case 'descendent-of':
        if (!hierarchy) break;
        return closure('ancestor', value, ' AND depth > 0');
      case 'is-not-a':
        if (!hierarchy) break;
        return `c.ord NOT IN (SELECT descendant FROM ${s}.closure WHERE csid = ${csid()} AND ancestor = ${ordOf(value)})`;
      case 'generalizes':
        if (!hierarchy) break;
        return closure('descendant', value);
      case 'regex': {
        assertSafeRegex(value);
        try {
          // JavaScript checks the syntax; it lacks PostgreSQL's POSIX classes ([[:alpha:]]), which stand in as one letter.
          new RegExp(value.replace(POSIX_CLASS, 'a'), 'u');
        } catch {
          throw badParameter(`the regex filter "${value.slice(0, 80)}" is not a valid regular expression`);
        }
        const pattern = this.p(`^(?:${value})$`);
        if (property === 'code') return `c.code ~ ${pattern}`;
        if (property === 'display') return `c.display ~ ${pattern}`;
        return `c.ord IN (SELECT ord FROM ${s}.property WHERE csid = ${csid()} AND code = ${this.p(property)} AND value ~ ${pattern})`;
      }
      case '=':
      case 'in':
      case 'not-in': {
        const values = op === '=' ? [value] : filterValues(value);
        const condition = await this.valueMatch(system, csid, property, values);
        return op === 'not-in' ? `NOT (${condition})` : condition;
      }
      case 'exists': {
        if (value !== 'true' && value !== 'false') throw badParameter(`an exists filter takes true or false, not "${value.slice(0, 40)}"`);
        let condition: string;
        if (property === 'parent') condition = `c.ord IN (SELECT child FROM ${s}.parent WHERE csid = ${csid()})`;
        else if (property === 'child') condition = `c.ord IN (SELECT parent FROM ${s}.parent WHERE csid = ${csid()})`;
        else if (property === 'display' || property === 'definition') condition = `c.${property} IS NOT NULL`;
        else condition = `c.ord IN (SELECT ord FROM ${s}.property WHERE csid = ${csid()} AND code = ${this.p(property)})`;
        return value === 'true' ? condition : `NOT (${condition})`;
      }
      default:
        throw badParameter(`filter operator "${op.slice(0, 40)}" is not supported (is-a, descendent-of, is-not-a, generalizes, regex, =, in, not-in, exists)`);
    }
    throw badParameter(`filter operator ${op} applies to the property "concept" (the hierarchy), not "${property.slice(0, 60)}"`);
  }

  /** Refuses an `in`/`not-in` filter listing more than TERMINOLOGY_MAX_FILTER_VALUES values (before anything runs). */
  private assertFilterValues(filter: ValueSetComposeIncludeFilter): void {
    const { op, value } = filter as { op?: unknown; value?: unknown };
    if ((op !== 'in' && op !== 'not-in') || typeof value !== 'string') return;
    const count = filterValues(value).length;
    const max = this.store.limits.terminologyMaxFilterValues;
    if (count > max) throw tooCostly(`an "${op}" filter lists ${count} values, more than ${max} (TERMINOLOGY_MAX_FILTER_VALUES): list the concepts in include.concept instead, or split the filter`);
  }

  /** A filter on a property no concept of the system has (and FHIR does not define) is a mistake, not an empty set. */
  private async assertKnownProperty(system: StoredCodeSystem, property: string): Promise<void> {
    if (BUILT_IN_PROPERTIES.has(property)) return;
    const used = await this.repo.sql.query(`SELECT 1 FROM ${this.schema}.property WHERE csid = $1 AND code = $2 LIMIT 1`, [system.csid, property]);
    if (used.rows.length) return;
    // Declared by the CodeSystem but on no concept (yet): a valid filter that matches nothing.
    const resource = await this.repo.read('CodeSystem', system.resourceId).catch(() => undefined) as CodeSystem | undefined;
    if (!(resource?.property ?? []).some((p) => p?.code === property)) throw badParameter(`code system ${system.url.slice(0, 200)} has no property "${property.slice(0, 60)}" to filter on`);
  }

  private async valueMatch(system: StoredCodeSystem, csid: () => string, property: string, values: string[]): Promise<string> {
    const s = this.schema;
    if (property === 'code') {
      // As listed concepts: in a caseSensitive: false system, `concept in a,b` also matches A and B.
      return system.caseSensitive ? `c.code = ANY(${this.p(values)}::text[])` : `lower(c.code) = ANY(SELECT lower(v) FROM unnest(${this.p(values)}::text[]) v)`;
    }
    if (property === 'display') return `c.display = ANY(${this.p(values)}::text[])`;
    if (property === 'parent' || property === 'child') {
      // The codes' numbers are found inside the statement, all at once (not one query per value).
      const codes = this.p(values);
      const ords = system.caseSensitive
        ? `SELECT ord FROM ${s}.concept WHERE csid = ${csid()} AND code = ANY(${codes}::text[])`
        : `SELECT ord FROM ${s}.concept WHERE csid = ${csid()} AND lower(code) = ANY(SELECT lower(v) FROM unnest(${codes}::text[]) v)`;
      const [mine, theirs] = property === 'parent' ? ['child', 'parent'] : ['parent', 'child'];
      return `c.ord IN (SELECT ${mine} FROM ${s}.parent WHERE csid = ${csid()} AND ${theirs} IN (${ords}))`;
    }
    // The index holds md5(value) (migration 1003): the hashes find the rows, the values confirm them.
    return `c.ord IN (SELECT ord FROM ${s}.property WHERE csid = ${csid()} AND code = ${this.p(property)} AND md5(value) = ANY(${this.p(values.map(md5))}::text[]) AND value = ANY(${this.p(values)}::text[]))`;
  }
}

/** PostgreSQL's md5(text), as the property index holds it. */
const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

/** The values of an `in`/`not-in` filter (comma-separated). */
function filterValues(value: string): string[] {
  return value.split(',').map((v) => v.trim()).filter(Boolean);
}

function dedupe(concepts: ListedConcept[]): ListedConcept[] {
  const seen = new Set<string>();
  return concepts.filter((c) => (seen.has(key(c)) ? false : (seen.add(key(c)), true)));
}

function intersect(a: ListedConcept[], b: ListedConcept[]): ListedConcept[] {
  const keys = new Set(b.map(key));
  return a.filter((c) => keys.has(key(c)));
}

/** The compose of a value set (and those it imports) as one SQL condition plus listed concepts. */
export async function compileValueSet(repo: FhirRepository, store: ConceptStore, valueSet: ValueSet, versionRules?: SystemVersionRules): Promise<CompiledCompose> {
  const compiler = new Compiler(repo, store, versionRules);
  const canonical = valueSet.url ? `${valueSet.url}${valueSet.version ? `|${valueSet.version}` : ''}` : `ValueSet/${valueSet.id ?? 'inline'}`;
  const { where, listed } = await compiler.valueSet(valueSet, [canonical]);
  return { where, params: compiler.params, listed, systems: [...compiler.systems.values()], wholeSystems: compiler.wholeSystems && !listed.length, conceptTexts: compiler.conceptTexts };
}

/** `http://sct?fhir_vs`, `...?fhir_vs=isa/123`: the implicit value sets of a code system (FHIR terminologies). */
export function implicitValueSet(url: string): ValueSet | undefined {
  const match = /^([^?]+)\?fhir_vs(?:=isa\/(.+))?$/.exec(url);
  if (!match) return undefined;
  const include: ValueSetComposeInclude = { system: match[1]! };
  if (match[2]) include.filter = [{ property: 'concept', op: 'is-a', value: decodeURIComponent(match[2]) }];
  return { resourceType: 'ValueSet', url, status: 'active', compose: { include: [include] } };
}
