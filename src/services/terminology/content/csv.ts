/**
 * CSV code lists as concepts: a header row naming the columns, `code` required, `display`,
 * `definition`, `parent` (parent codes, several separated by `|`), `active` or `status`
 * (false/inactive/retired mark the concept inactive); any other column becomes a string property
 * of that name. Quoted fields (RFC 4180: "a, b", "say ""hi""") may hold commas and line breaks.
 */
import { badRequest } from '../../../fhir/outcome.js';
import { isActive, type ConceptProperty, type ConceptRecord } from '../concepts.js';

/** The rows of a CSV text (RFC 4180). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i++; } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') { row.push(field); field = ''; }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else field += ch;
  }
  if (quoted) throw badRequest('the CSV ends inside a quoted field');
  row.push(field);
  if (row.some((f) => f !== '')) rows.push(row);
  return rows;
}

export function conceptsOfCsv(text: string, origin: string): ConceptRecord[] {
  const rows = parseCsv(text.replace(/^\uFEFF/, ''));
  const header = rows.shift()?.map((h) => h.trim().toLowerCase());
  if (!header?.includes('code')) throw badRequest(`${origin}: the CSV's first row must name its columns, one of them "code"`);
  const at = (name: string): number => header.indexOf(name);
  const known = new Set(['code', 'display', 'definition', 'parent', 'active', 'status']);
  return rows.map((cells, n) => {
    const cell = (name: string): string | undefined => (at(name) >= 0 ? cells[at(name)]?.trim() || undefined : undefined);
    const code = cell('code');
    if (!code) throw badRequest(`${origin}: row ${n + 2} has no code`);
    const properties: ConceptProperty[] = header.flatMap((h, i) => (known.has(h) || !cells[i]?.trim() ? [] : [{ code: h, type: 'string', value: cells[i]!.trim() }]));
    const status = cell('status') ?? (cell('active')?.toLowerCase() === 'false' ? 'inactive' : undefined);
    if (status) properties.push({ code: 'status', type: 'code', value: status.toLowerCase() });
    return {
      code, display: cell('display'), definition: cell('definition'), active: isActive(properties),
      designations: [], properties, parents: (cell('parent') ?? '').split('|').map((p) => p.trim()).filter(Boolean),
    };
  });
}
