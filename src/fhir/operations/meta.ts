/**
 * The R4 meta operations on every resource (resource-operations.html): `$meta` lists the
 * profiles, tags and security labels in use (system, type or instance level); `$meta-add` and
 * `$meta-delete` change them on one resource. Tags and security labels are sets keyed by
 * system + code (version and display ignored when matching), profiles by their URL.
 *
 * As the definitions say, a change makes no new version: the version's meta is updated where it
 * is stored (the current one's, or an older one's as `[type]/[id]/_history/[vid]/$meta-add`),
 * after the checks and the `before` write interceptors of an update (a registry's rules about its
 * own tags hold). `$meta` reads a version's labels the same way.
 */
import type { Coding, Meta, Parameters } from '@medplum/fhirtypes';
import type { Queryable } from '../../db/database.js';
import { allResourceTypes } from '../definitions.js';
import { badRequest } from '../outcome.js';
import type { FhirOperation, OperationContext } from './registry.js';

/** Distinct values one `$meta` lists at most per parameter and type (each is one index probe). */
const MAX_LISTED = 1000;

const META_ELEMENTS = ['profile', 'tag', 'security'] as const;

const answer = (meta: Meta): Parameters => ({ resourceType: 'Parameters', parameter: [{ name: 'return', valueMeta: meta }] });

export const metaOperation: FhirOperation = {
  name: 'meta',
  levels: ['system', 'type', 'instance'],
  onVersions: true,
  affectsState: false,
  definitionUrl: 'http://hl7.org/fhir/OperationDefinition/Resource-meta',
  async run(ctx: OperationContext): Promise<Parameters> {
    if (ctx.level === 'instance') {
      const resource = ctx.versionId !== undefined ? await ctx.repo.vread(ctx.resourceType!, ctx.id!, ctx.versionId) : await ctx.repo.read(ctx.resourceType!, ctx.id!);
      return answer(versionLabels(resource.meta ?? {}));
    }
    const types = ctx.level === 'type' ? [ctx.resourceType!] : await typesPresent(ctx.repo.sql, ctx.repo.schema);
    const tag: Coding[] = [];
    const security: Coding[] = [];
    const profile: string[] = [];
    for (const type of types) {
      tag.push(...await distinctCodings(ctx.repo.sql, ctx.repo.schema, type, '_tag'));
      security.push(...await distinctCodings(ctx.repo.sql, ctx.repo.schema, type, '_security'));
      profile.push(...await distinctUris(ctx.repo.sql, ctx.repo.schema, type, '_profile'));
    }
    return answer(onlyLabels({ profile, tag, security }));
  },
};

/** An instance operation that changes the labels of one resource with the given `meta`. */
function labelChange(name: 'meta-add' | 'meta-delete', change: (meta: Meta, given: Meta) => Meta): FhirOperation {
  return {
    name,
    levels: ['instance'],
    onVersions: true,
    affectsState: true,
    definitionUrl: `http://hl7.org/fhir/OperationDefinition/Resource-${name}`,
    async run(ctx: OperationContext): Promise<Parameters> {
      const given = metaParameter(ctx, name);
      const changed = await ctx.repo.changeMeta(ctx.resourceType!, ctx.id!, (meta) => change(meta, given), ctx.versionId);
      return answer(versionLabels(changed.meta ?? {}));
    },
  };
}

export const metaAddOperation = labelChange('meta-add', (meta, given) => ({
  ...meta,
  ...joined('profile', [...new Set([...(meta.profile ?? []), ...(given.profile ?? [])])]),
  ...joined('tag', [...(meta.tag ?? []), ...absentFrom(meta.tag, given.tag)]),
  ...joined('security', [...(meta.security ?? []), ...absentFrom(meta.security, given.security)]),
}));

export const metaDeleteOperation = labelChange('meta-delete', ({ profile, tag, security, ...rest }, given) => {
  const removed = new Set(given.profile ?? []);
  return {
    ...rest,
    ...joined('profile', (profile ?? []).filter((url) => !removed.has(url))),
    ...joined('tag', absentFrom(given.tag, tag)),
    ...joined('security', absentFrom(given.security, security)),
  };
});

/** The `meta` input (1..1 Meta). */
function metaParameter(ctx: OperationContext, operation: string): Meta {
  const found = (ctx.parameters.parameter ?? []).filter((p) => p.name === 'meta');
  const meta = found[0]?.valueMeta;
  if (found.length !== 1 || !meta || typeof meta !== 'object') {
    throw badRequest(`$${operation} takes one parameter "meta" of type Meta (valueMeta) in a Parameters body`);
  }
  for (const element of META_ELEMENTS) {
    if (meta[element] !== undefined && !Array.isArray(meta[element])) throw badRequest(`meta.${element} must be a list`);
  }
  return meta;
}

const labelKey = (c: Coding): string => `${c.system ?? ''}|${c.code ?? ''}`;

/** The codings of `from` with no label of the same system + code in `existing` (nor earlier in `from`); one pass each. */
function absentFrom(existing: Coding[] | undefined, from: Coding[] | undefined): Coding[] {
  const seen = new Set((existing ?? []).map(labelKey));
  const out: Coding[] = [];
  for (const coding of from ?? []) {
    const key = labelKey(coding);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(coding);
  }
  return out;
}

/** `{ key: list }`, or nothing for an empty list (FHIR has no empty arrays). */
const joined = <K extends string, T>(key: K, list: T[]): Partial<Record<K, T[]>> => (list.length ? { [key]: list } as Record<K, T[]> : {});

/** The profiles, tags and security labels of a meta: what the meta operations are about. */
/**
 * One version's labels with its versionId and lastUpdated, as HAPI answers: a resource without
 * labels would otherwise answer an empty Meta, which FHIR has no form for (ele-1; `<valueMeta/>`
 * is refused when read back).
 */
function versionLabels(meta: Meta): Meta {
  return { ...(meta.versionId ? { versionId: meta.versionId } : {}), ...(meta.lastUpdated ? { lastUpdated: meta.lastUpdated } : {}), ...onlyLabels(meta) };
}

function onlyLabels(meta: Meta): Meta {
  return { ...joined('profile', meta.profile ?? []), ...joined('tag', meta.tag ?? []), ...joined('security', meta.security ?? []) };
}

/** The resource types with stored resources: a loose scan of the (type, id) key, one probe a type. */
async function typesPresent(q: Queryable, schema: string): Promise<string[]> {
  const known = new Set(allResourceTypes());
  const rows = await q.query<{ type: string }>(
    `WITH RECURSIVE t(type) AS (
       (SELECT type FROM ${schema}.resources ORDER BY type LIMIT 1)
       UNION ALL
       SELECT (SELECT r.type FROM ${schema}.resources r WHERE r.type > t.type ORDER BY r.type LIMIT 1) FROM t WHERE t.type IS NOT NULL
     ) SELECT type FROM t WHERE type IS NOT NULL`,
  );
  return rows.rows.map((r) => r.type).filter((type) => known.has(type));
}

/**
 * The distinct system + code of a token parameter of a type, walking its index one distinct
 * value at a time (each probe skips every row with the same value): cost by distinct labels, not
 * by tagged resources. (A label with no system right after one with a system and the same code
 * is skipped by the row comparison; such a pair is not worth a full scan.)
 */
async function distinctCodings(q: Queryable, schema: string, type: string, param: string): Promise<Coding[]> {
  const rows = await q.query<{ system: string | null; code: string | null }>(
    `WITH RECURSIVE d(code, system) AS (
       (SELECT code, system FROM ${schema}.idx_token WHERE type = $1 AND param = $2 ORDER BY code, system LIMIT 1)
       UNION ALL
       SELECT n.code, n.system FROM d CROSS JOIN LATERAL (
         SELECT t.code, t.system FROM ${schema}.idx_token t
         WHERE t.type = $1 AND t.param = $2 AND (t.code, t.system) > (d.code, d.system)
         ORDER BY t.code, t.system LIMIT 1) n
     ) SELECT code, system FROM d LIMIT ${MAX_LISTED}`,
    [type, param],
  );
  return rows.rows.filter((r) => r.code !== null).map((r) => ({ ...(r.system !== null ? { system: r.system } : {}), code: r.code! }));
}

/** The distinct values of a uri parameter of a type, one index probe per value. */
async function distinctUris(q: Queryable, schema: string, type: string, param: string): Promise<string[]> {
  const rows = await q.query<{ value: string }>(
    `WITH RECURSIVE d(value) AS (
       (SELECT value FROM ${schema}.idx_uri WHERE type = $1 AND param = $2 ORDER BY value LIMIT 1)
       UNION ALL
       SELECT (SELECT u.value FROM ${schema}.idx_uri u WHERE u.type = $1 AND u.param = $2 AND u.value > d.value ORDER BY u.value LIMIT 1)
       FROM d WHERE d.value IS NOT NULL
     ) SELECT value FROM d WHERE value IS NOT NULL LIMIT ${MAX_LISTED}`,
    [type, param],
  );
  return rows.rows.map((r) => r.value);
}
