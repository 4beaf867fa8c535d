/**
 * The profiles `$validate` can check a resource against (its `profile` parameter): a
 * StructureDefinition stored on the server, else one R4 itself publishes beyond the base
 * resources (profiles-others.json: the vital signs, shareable definitions...), read once when
 * first asked for. R4 (Resource-validate): a server that cannot validate against the profile
 * named SHALL say so with an error, never answer as if it had.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, StructureDefinition } from '@medplum/fhirtypes';
import { definitionsDir } from './definition-files.js';
import type { FhirRepository } from './repository.js';

let published: Map<string, StructureDefinition> | undefined;

function publishedProfiles(): Map<string, StructureDefinition> {
  if (!published) {
    const bundle = JSON.parse(readFileSync(join(definitionsDir(), 'profiles-others.json'), 'utf8')) as Bundle;
    published = new Map();
    for (const entry of bundle.entry ?? []) {
      const definition = entry.resource as StructureDefinition | undefined;
      if (definition?.resourceType === 'StructureDefinition' && definition.url && definition.snapshot) published.set(definition.url, definition);
    }
  }
  return published;
}

/** The StructureDefinition a canonical names (`url` or `url|version`), or undefined when this server has none. */
export async function findProfile(repo: FhirRepository, canonical: string): Promise<StructureDefinition | undefined> {
  const [url, version] = canonical.split('|');
  const query: Array<[string, string]> = [['url', url!], ['_count', '1']];
  if (version) query.push(['version', version]);
  const stored = await repo.search('StructureDefinition', query);
  const found = stored.entry?.[0]?.resource as StructureDefinition | undefined;
  if (found?.snapshot) return found;
  return publishedProfiles().get(url!);
}
