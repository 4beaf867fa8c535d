/** _summary and _elements: what of each resource a search returns. */
import { getDataType } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

const ALWAYS = new Set(['resourceType', 'id', 'meta']);

function markSubsetted(resource: Record<string, unknown>): void {
  const meta = { ...((resource.meta as Record<string, unknown>) ?? {}) };
  const tags = Array.isArray(meta.tag) ? [...(meta.tag as unknown[])] : [];
  tags.push({ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' });
  meta.tag = tags;
  resource.meta = meta;
}

export function applyElements(resource: Resource, elements: string[]): Resource {
  const keep = new Set([...ALWAYS, ...elements.map((e) => e.split('.')[0]!.replace(/^[A-Z][A-Za-z]+\./, ''))]);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) if (keep.has(key)) out[key] = value;
  markSubsetted(out);
  return out as unknown as Resource;
}

export function applySummary(resource: Resource, summary: 'true' | 'text' | 'data'): Resource {
  const out: Record<string, unknown> = {};
  if (summary === 'data') {
    for (const [key, value] of Object.entries(resource)) if (key !== 'text') out[key] = value;
  } else if (summary === 'text') {
    for (const [key, value] of Object.entries(resource)) if (ALWAYS.has(key) || key === 'text') out[key] = value;
  } else {
    let summaryProperties: Set<string> | undefined;
    try {
      summaryProperties = getDataType(resource.resourceType).summaryProperties;
    } catch {
      summaryProperties = undefined;
    }
    for (const [key, value] of Object.entries(resource)) {
      if (ALWAYS.has(key) || summaryProperties?.has(key) || isChoiceOfSummary(key, summaryProperties)) out[key] = value;
    }
  }
  markSubsetted(out);
  return out as unknown as Resource;
}

/** deceasedBoolean is in the summary when deceased[x] is. */
function isChoiceOfSummary(key: string, summary: Set<string> | undefined): boolean {
  if (!summary) return false;
  const m = /^([a-z][A-Za-z]*?)[A-Z]/.exec(key);
  return !!m && (summary.has(`${m[1]}[x]`) || summary.has(m[1]!));
}
