/**
 * The narrative rules of FHIR R4 (narrative.html#xhtml, invariants txt-1 and txt-2) for every
 * Narrative.div a resource holds, contained resources' and bundled ones' included: the div is
 * one well-formed XHTML `<div>` in the XHTML namespace, made only of the basic formatting elements
 * and attributes (HTML 4.0 chapters 7-11 and 15, links, images, inline style), and it has some
 * non-whitespace content. Scripts, event attributes, forms, frames, objects and `javascript:` or
 * `data:` links are refused: a narrative is shown to people in browsers and EHR viewers, so one
 * that runs code is stored cross-site scripting.
 *
 * The element and attribute lists are those of the FHIR validator (InstanceValidator), which
 * implements txt-1 for HL7. The div is read with the same XML parser as FHIR XML bodies; no
 * DTD, entity declaration or processing instruction is accepted (only XML's own five entities
 * and character references are known to the parser).
 */
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { SaxesParser, type SaxesTagPlain } from 'saxes';

export const XHTML_NAMESPACE = 'http://www.w3.org/1999/xhtml';

const ELEMENTS: ReadonlySet<string> = new Set([
  'p', 'br', 'div', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'a', 'span', 'b', 'em', 'i', 'strong',
  'small', 'big', 'tt', 'dfn', 'q', 'var', 'abbr', 'acronym', 'cite', 'blockquote', 'hr', 'address', 'bdo', 'kbd', 'sub', 'sup',
  'ul', 'ol', 'li', 'dl', 'dt', 'dd', 'pre', 'table', 'caption', 'colgroup', 'col', 'thead', 'tr', 'tfoot', 'tbody', 'th', 'td',
  'code', 'samp', 'img', 'map', 'area',
]);

/** Attributes any element may have (core, i18n, keyboard and table attributes of HTML 4). */
const COMMON_ATTRIBUTES: ReadonlySet<string> = new Set([
  'title', 'style', 'class', 'id', 'lang', 'xml:lang', 'dir', 'accesskey', 'tabindex',
  'span', 'width', 'align', 'valign', 'char', 'charoff', 'abbr', 'axis', 'headers', 'scope', 'rowspan', 'colspan',
]);

/** Attributes only some elements may have, as element.attribute. */
const ELEMENT_ATTRIBUTES: ReadonlySet<string> = new Set([
  'a.href', 'a.name', 'a.charset', 'a.type', 'a.hreflang', 'a.rel', 'a.rev', 'a.shape', 'a.coords',
  'img.src', 'img.border', 'img.alt', 'img.longdesc', 'img.height', 'img.width', 'img.usemap', 'img.ismap',
  'blockquote.cite', 'q.cite', 'map.name', 'area.shape', 'area.coords', 'area.href', 'area.nohref', 'area.alt',
  'table.summary', 'table.width', 'table.border', 'table.frame', 'table.rules', 'table.cellspacing', 'table.cellpadding',
  'pre.space', 'td.nowrap',
]);

/** Attributes holding a URL: links may leave the narrative, but never to code. */
const URL_ATTRIBUTES: ReadonlySet<string> = new Set(['a.href', 'area.href', 'blockquote.cite', 'q.cite', 'img.longdesc', 'img.src']);
const LINK_SCHEMES: ReadonlySet<string> = new Set(['http', 'https', 'mailto', 'tel', 'ftp', 'urn']);
/** Images inline as data: URLs (narrative.html allows them); not SVG, which can carry script. */
const DATA_IMAGE = /^data:image\/(?:png|gif|jpeg|jpg|webp|bmp);base64,/;
/** CSS that reaches outside the narrative or runs code (old IE expression(), Mozilla bindings). */
const UNSAFE_STYLE = /expression\s*\(|javascript:|vbscript:|@import|behavior\s*:|-moz-binding|image-set\s*\(/i;

/** Why a narrative's XHTML breaks txt-1 or txt-2, or undefined when it is fine. */
export function narrativeProblem(div: string): string | undefined {
  const parser = new SaxesParser<{ xmlns: false; position: false }>({ xmlns: false, position: false });
  let problem: string | undefined;
  let depth = 0;
  let hasContent = false;
  const refuse = (reason: string): void => {
    problem ??= reason;
    throw new NarrativeRefused();
  };
  parser.on('xmldecl', () => refuse('it has an XML declaration; the narrative is one <div> element'));
  parser.on('doctype', () => refuse('it has a DTD (<!DOCTYPE>), which a narrative may not have'));
  parser.on('processinginstruction', () => refuse('it has a processing instruction, which a narrative may not have'));
  parser.on('opentag', (tag) => {
    if (depth === 0) {
      if (tag.name !== 'div') refuse(`its root element is <${short(tag.name)}>; the narrative is one <div> element`);
      if (tag.attributes.xmlns !== XHTML_NAMESPACE) refuse(`its <div> is not in the XHTML namespace (xmlns="${XHTML_NAMESPACE}")`);
    }
    depth++;
    // Deeper nesting than any narrative needs made writing it as XML quadratic (140,000 nested
    // <b> held one GET for minutes); XML bodies count it against FHIR_MAX_JSON_DEPTH (100) too.
    if (depth > MAX_NARRATIVE_DEPTH) refuse(`it nests elements deeper than ${MAX_NARRATIVE_DEPTH} levels`);
    const reason = elementProblem(tag);
    if (reason) refuse(reason);
    if (tag.name === 'img') hasContent = true;
  });
  parser.on('closetag', () => {
    depth--;
  });
  const noteText = (text: string): void => {
    if (text.trim() !== '') hasContent = true;
  };
  parser.on('text', noteText);
  // What XML reads as a comment or text, an HTML parser (the viewers of narratives) may not:
  // "<!-->" and "<!--->" end a comment at once in HTML, and a CDATA section is a bogus comment
  // that ends at its first ">", so markup hidden in them would run there.
  parser.on('comment', (text) => {
    if (text.startsWith('>') || text.startsWith('->')) refuse('it has a comment that HTML ends at once ("<!-->" or "<!--->"), which would expose what follows to a viewer');
  });
  parser.on('cdata', (text) => {
    noteText(text);
    if (text.includes('>')) refuse('it has a CDATA section holding ">", where an HTML viewer would end it and read the rest as markup; write the text with entities (&lt; &gt; &amp;)');
  });
  try {
    parser.write(div).close();
  } catch (error) {
    if (problem) return problem;
    if (error instanceof NarrativeRefused) return 'it is not well-formed XHTML';
    return `it is not well-formed XHTML (${(error as Error).message.replace(/^undefined:\d*:?\d*:?\s*/, '').slice(0, 120)})`;
  }
  if (depth !== 0 || !div.trimStart().startsWith('<')) return 'it is not a <div> element of XHTML';
  if (!hasContent) return 'it has no non-whitespace content (txt-2)';
  return undefined;
}

class NarrativeRefused extends Error {}

/** Element nesting a narrative may have (FHIR_MAX_JSON_DEPTH's default, which XML bodies count it against). */
const MAX_NARRATIVE_DEPTH = 100;

function elementProblem(tag: SaxesTagPlain): string | undefined {
  const name = tag.name;
  if (!ELEMENTS.has(name)) return `it has a <${short(name)}> element, which a narrative may not contain (txt-1: basic formatting, links and images only)`;
  for (const [attribute, value] of Object.entries(tag.attributes)) {
    if (attribute === 'xmlns') {
      if (value !== XHTML_NAMESPACE) return `its <${name}> declares another namespace ("${short(value)}")`;
      continue;
    }
    if (attribute.startsWith('xmlns:')) continue; // a declaration alone does nothing: prefixed names are refused
    const qualified = `${name}.${attribute}`;
    if (!COMMON_ATTRIBUTES.has(attribute) && !ELEMENT_ATTRIBUTES.has(qualified)) {
      return `its <${name}> has the attribute "${short(attribute)}", which a narrative may not have (txt-1: no event attributes or scripts)`;
    }
    if (attribute === 'style' && !isContainedStyle(value)) {
      return `its <${name}> has a style that loads or runs something ("${short(value)}"); a narrative's styles stay inside it (txt-1)`;
    }
    if (URL_ATTRIBUTES.has(qualified)) {
      const reason = urlProblem(value, qualified === 'img.src');
      if (reason) return `its <${name} ${attribute}="${short(value)}"> ${reason}`;
    }
  }
  return undefined;
}

/** A style that neither runs code nor loads anything: url() only for inline (data:) images. */
function isContainedStyle(value: string): boolean {
  // CSS escapes (\75rl) can spell url( or expression( by other letters; comments can split them.
  if (value.includes('\\')) return false;
  const style = withoutComments(value);
  if (UNSAFE_STYLE.test(style)) return false;
  return !/url\s*\(/i.test(withoutDataImageUrls(style));
}

/*
 * The two scans below are written out rather than as regular expressions: a lazy pattern such as
 * /url\s*\(([^)]*?)\)/g or /\/\*[\s\S]*?\*\//g retries from every "url(" or "/*" of a style
 * that never closes them, quadratic in its length (200,000 "/* a" took 24 s), and a narrative's
 * style attribute is as long as a caller makes it.
 */

/** CSS comments removed; an unterminated one runs to the end, as browsers read it. */
function withoutComments(style: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const open = style.indexOf('/*', at);
    if (open < 0) return out + style.slice(at);
    out += style.slice(at, open);
    const close = style.indexOf('*/', open + 2);
    if (close < 0) return out;
    at = close + 2;
  }
}

/** Each url(...) whose URL is an inline (data:) image removed; any other left as "url(" to be refused. */
function withoutDataImageUrls(style: string): string {
  const lower = style.toLowerCase();
  let out = '';
  let at = 0;
  for (;;) {
    const start = lower.indexOf('url', at);
    if (start < 0) return out + style.slice(at);
    let open = start + 3;
    while (open < style.length && /\s/.test(style[open]!)) open++;
    const close = style[open] === '(' ? style.indexOf(')', open + 1) : -1;
    if (close < 0) {
      // Not a url(...) that closes: kept as it is (an unclosed "url(" is then refused).
      out += style.slice(at, open);
      at = open;
      if (open >= style.length) return out;
      continue;
    }
    const inner = style.slice(open + 1, close).trim();
    const quoted = inner.length >= 2 && (inner[0] === '"' || inner[0] === "'") && inner.at(-1) === inner[0];
    const url = quoted ? inner.slice(1, -1) : inner;
    out += style.slice(at, start) + (DATA_IMAGE.test(compactUrl(url)) ? '' : 'url(');
    at = close + 1;
  }
}

/** A URL as a browser reads its scheme: ASCII whitespace and control characters dropped ("java\tscript:"). */
function compactUrl(url: string): string {
  return url.replace(/[\u0000-\u0020\u007f]/g, '').toLowerCase();
}

/** A link may go to another web page or address, an image to a picture; neither runs code. */
function urlProblem(value: string, image: boolean): string | undefined {
  const compact = compactUrl(value);
  const scheme = /^([a-z][a-z0-9+.-]*):/.exec(compact)?.[1];
  if (scheme === undefined) return undefined;
  if (LINK_SCHEMES.has(scheme)) return undefined;
  if (image && scheme === 'data' && DATA_IMAGE.test(compact)) return undefined;
  return image
    ? `uses the scheme "${short(scheme)}:"; images are http(s), #contained or data:image/png|gif|jpeg|webp;base64 (txt-1)`
    : `uses the scheme "${short(scheme)}:"; links are http(s), mailto, tel, ftp, urn or relative (txt-1)`;
}

function short(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/**
 * An error issue for each narrative of the resource that breaks txt-1 or txt-2, naming its path
 * (Patient.text.div, Bundle.entry[0].resource.contained[1].text.div). Narrative.div is the only
 * FHIR element named `div`, so every member of that name is one.
 */
export function narrativeIssues(resource: object, root: string): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const stack: Array<{ node: unknown; path: string }> = [{ node: resource, path: root }];
  while (stack.length) {
    const { node, path } = stack.pop()!;
    if (!node || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push({ node: node[i], path: `${path}[${i}]` });
      continue;
    }
    for (const [key, child] of Object.entries(node).reverse()) {
      if (key === 'div' && typeof child === 'string') {
        const problem = narrativeProblem(child);
        if (problem) issues.push({ severity: 'error', code: 'invalid', details: { text: `the narrative is refused: ${problem}` }, expression: [`${path}.div`] });
      } else if (child && typeof child === 'object') stack.push({ node: child, path: `${path}.${key}` });
    }
  }
  return issues;
}
