/**
 * $import (system level, POST only): loads terminology content over HTTP, as the files at start
 * do: `resource` parameters (CodeSystem, ValueSet, ConceptMap, NamingSystem, or Bundles of them),
 * `package` (a FHIR NPM package .tgz, base64), or `csv` (a code list) with `url` and optionally
 * `name`, `version` and `title`. Answers with what was loaded and the rate.
 */
import type { CodeSystem, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { FhirOperation } from '../../../fhir/operations/registry.js';
import { conceptsOfCsv } from '../content/csv.js';
import { TERMINOLOGY_TYPES, type ContentLoader, type ImportReport } from '../content/loader.js';
import { resourcesOfNpmPackage } from '../content/npm.js';
import { badParameter } from '../parameters.js';

export function importOperation(loader: ContentLoader): FhirOperation {
  return {
    name: 'import',
    levels: ['system'],
    affectsState: true,
    async run({ parameters }) {
      const params = (parameters as { parameter?: unknown }).parameter ?? [];
      if (!Array.isArray(params) || params.some((p) => typeof p !== 'object' || p === null || typeof (p as { name?: unknown }).name !== 'string')) {
        throw badParameter('$import: "parameter" must be an array of parameters, each with a name');
      }
      const allowed = ['resource', 'package', 'csv', 'url', 'name', 'version', 'title'];
      const unknown = params.find((p) => !allowed.includes(p.name));
      if (unknown) throw badParameter(`$import has no parameter "${String(unknown.name).slice(0, 60)}"; it takes ${allowed.join(', ')}`);
      const value = (name: string): string | undefined => {
        const p = params.find((x) => x.name === name);
        const v: unknown = p?.valueString ?? p?.valueUri;
        // A value of another type (a csv as valueBase64Binary) is refused, not taken for a missing parameter.
        if (p && v === undefined) throw badParameter(`$import: parameter "${name}" is text: give it as valueString${name === 'url' ? ' or valueUri' : ''}`);
        if (v !== undefined && typeof v !== 'string') throw badParameter(`$import: parameter "${name}" must be a string`);
        return v;
      };
      const started = Date.now();
      const reports: ImportReport[] = [];
      const resources = params.filter((p) => p.name === 'resource').map((p) => p.resource as Resource | undefined);
      if (resources.some((r) => typeof r !== 'object' || r === null || Array.isArray(r) || typeof r.resourceType !== 'string')) throw badParameter('$import: each "resource" parameter carries a resource');
      if (resources.length) reports.push(await loader.importResources(resources as Resource[], '$import'));
      for (const p of params.filter((x) => x.name === 'package')) {
        if (!p.valueBase64Binary || typeof p.valueBase64Binary !== 'string') throw badParameter('$import: "package" is a FHIR NPM package .tgz as valueBase64Binary');
        reports.push(await loader.importResources(await resourcesOfNpmPackage(Buffer.from(p.valueBase64Binary, 'base64'), TERMINOLOGY_TYPES, '$import package', loader.maxPackageBytes), '$import package'));
      }
      const csv = value('csv');
      if (csv !== undefined) {
        const url = value('url');
        if (!url) throw badParameter('$import: a "csv" code list needs the "url" of its code system');
        const header: CodeSystem = { resourceType: 'CodeSystem', url, status: 'active', content: 'complete',
          name: value('name') ?? url.replace(/[^A-Za-z0-9_]/g, '_').slice(-60), ...(value('version') ? { version: value('version') } : {}), ...(value('title') ? { title: value('title') } : {}) };
        const concepts = conceptsOfCsv(csv, '$import csv');
        reports.push({ resources: 1, concepts: await loader.importCodeSystem(header, concepts, '$import csv'), skipped: 0, ms: 0 });
      }
      if (!reports.length) throw badParameter('$import needs "resource", "package" or "csv"');
      const ms = Date.now() - started;
      const total = reports.reduce((t, r) => ({ resources: t.resources + r.resources, concepts: t.concepts + r.concepts, skipped: t.skipped + r.skipped }), { resources: 0, concepts: 0, skipped: 0 });
      const rate = total.concepts && ms ? Math.round(total.concepts / (ms / 1000)) : 0;
      const text = `imported ${total.resources} resources with ${total.concepts} concepts in ${ms} ms (${rate} concepts/s); skipped ${total.skipped} of other types`;
      return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: text, details: { text } }] } as OperationOutcome;
    },
  };
}
