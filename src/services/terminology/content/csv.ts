/**
 * CSV code lists as concepts: a header row naming the columns, `code` required, `display`,
 * `definition`, `parent` (parent codes, several separated by `|`), `active` or `status`
 * (false/inactive/retired mark the concept inactive); any other column becomes a string property
 * of that name. Quoted fields (RFC 4180: "a, b", "say ""hi""") may hold commas and line breaks.
 */
import { badRequest } from '../../../fhir/outcome.js';
import { isActive, type ConceptProperty, type ConceptRecord } from '../concepts.js';

/**
 * The rows of a CSV text (RFC 4180). Runs of ordinary characters are sliced, not appended one
 * by one: a 2.5 MB code list took 1.7 s of the event loop character by character.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  const separator = /[,\r\n]/g;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"' && field === '') {
      // A quoted field: up to the closing quote, "" standing for one quote.
      let from = i + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote < 0) throw badRequest('the CSV ends inside a quoted field');
        field += text.slice(from, quote);
        if (text[quote + 1] === '"') {
          field += '"';
          from = quote + 2;
          continue;
        }
        i = quote + 1;
        break;
      }
    } else if (ch === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (ch === '\n' || ch === '\r') {
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      row.push(field);
      field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else {
      // Ordinary characters (a quote inside an unquoted field is one of them) up to the next separator.
      separator.lastIndex = i;
      const next = separator.exec(text)?.index ?? text.length;
      field += text.slice(i, next);
      i = next;
    }
  }
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
