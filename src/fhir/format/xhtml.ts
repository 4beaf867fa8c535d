/**
 * The narrative (Narrative.div) between FHIR XML and the string FHIR JSON holds. JSON readers
 * expect one spelling: a div whose default namespace is XHTML, `<div xmlns="http://www.w3.org/1999/xhtml">`.
 *
 * A div that is already in that form and self-contained (every namespace it uses declared inside
 * it) is kept as the exact text it was written in, so a narrative survives JSON -> XML -> JSON
 * byte for byte (`&quot;` stays `&quot;`). Any other div (a prefix such as `<h:div>`, a namespace
 * declared on an ancestor) is written out again with its namespaces resolved: unprefixed
 * elements, each namespace declared where it changes.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { escapeAttribute, escapeText } from './xml-escape.js';

export const XHTML_NAMESPACE = 'http://www.w3.org/1999/xhtml';
const XMLNS_NAMESPACE = 'http://www.w3.org/2000/xmlns/';

/**
 * One narrative div read from SAX events (namespace mode), from its start tag to its end tag.
 * Work per element is constant (no copies of namespace scopes), whatever the declarations.
 */
export class XhtmlFragment {
  private level = 0;
  private start = -1;
  private end = -1;
  private rewritten = '';
  /**
   * Still true while the source text alone means the same XHTML as the document it is in: the div
   * declares its default namespace, and no element or attribute uses a prefix (whose binding may
   * come from outside the div).
   */
  private selfContained = true;
  private rootDeclaresDefault = false;
  /** The default namespace in the rewritten text at each open element. */
  private readonly defaults: string[] = [];

  /**
   * @param source the text the parser reads.
   * @param implicitXhtml the div may leave out xmlns: its text is then kept with the declaration
   *   added (a narrative stored through JSON written `<div>...`).
   */
  constructor(private readonly source: string, private readonly implicitXhtml = false) {}

  /** How deep inside the div the reader is (1 on the div itself). */
  get depth(): number {
    return this.level;
  }

  /** A start tag; `position` is the parser's, just after the tag. */
  open(tag: SaxesTagNS, position: number): void {
    if (this.level++ === 0) {
      this.start = this.source.lastIndexOf('<', position - 1); // '<' cannot occur inside a tag
      this.rootDeclaresDefault = tag.ns[''] !== undefined;
      if (!this.rootDeclaresDefault && !this.implicitXhtml) this.selfContained = false;
    }
    if (tag.prefix !== '') this.selfContained = false;
    this.rewritten += this.rewriteStartTag(tag);
  }

  /** An end tag (also sent after a self-closing start tag); true when the div itself closed. */
  close(tag: SaxesTagNS, position: number): boolean {
    this.defaults.pop();
    if (!tag.isSelfClosing) this.rewritten += `</${tag.local}>`;
    if (--this.level > 0) return false;
    this.end = position;
    return true;
  }

  // Text, comments and processing instructions count only inside the div (not around it).
  text(text: string): void {
    if (this.level > 0) this.rewritten += escapeText(text);
  }

  comment(text: string): void {
    if (this.level > 0) this.rewritten += `<!--${text}-->`;
  }

  processingInstruction(target: string, body: string): void {
    if (this.level > 0) this.rewritten += `<?${target}${body ? ` ${body}` : ''}?>`;
  }

  /** The narrative as FHIR JSON holds it. */
  toString(): string {
    if (!this.selfContained) return this.rewritten;
    const text = this.source.slice(this.start, this.end);
    // An implicit XHTML default is declared in the text (after "<div"), so the text alone says it.
    return this.implicitXhtml && !this.rootDeclaresDefault ? `<div xmlns="${XHTML_NAMESPACE}"${text.slice(4)}` : text;
  }

  /** The start tag unprefixed, with the default namespace declared where it changes. */
  private rewriteStartTag(tag: SaxesTagNS): string {
    let declarations = '';
    let attributes = '';
    if ((this.defaults[this.defaults.length - 1] ?? '') !== tag.uri) declarations += ` xmlns="${escapeAttribute(tag.uri)}"`;
    this.defaults.push(tag.uri);
    const declared = new Set<string>();
    for (const { prefix, local, uri, value } of Object.values(tag.attributes)) {
      if (uri === XMLNS_NAMESPACE) continue; // declarations are written where they are needed
      if (prefix !== '' && prefix !== 'xml') {
        // A prefixed attribute (xlink:href) keeps its prefix, declared on its own element.
        this.selfContained = false;
        if (!declared.has(prefix)) declarations += ` xmlns:${prefix}="${escapeAttribute(uri)}"`;
        declared.add(prefix);
      }
      attributes += ` ${prefix ? `${prefix}:${local}` : local}="${escapeAttribute(value)}"`;
    }
    return `<${tag.local}${declarations}${attributes}${tag.isSelfClosing ? '/>' : '>'}`;
  }
}

/**
 * A narrative string (from JSON) as the div to put in FHIR XML, or undefined when it is not one
 * well-formed XHTML div. A div without xmlns is taken to be XHTML, as FHIR JSON writers often send it.
 */
export function xhtmlDivForXml(div: string): string | undefined {
  const parser = new SaxesParser<{ xmlns: true; position: false; additionalNamespaces: Record<string, string> }>({
    xmlns: true, position: false, additionalNamespaces: { '': XHTML_NAMESPACE },
  });
  const fragment = new XhtmlFragment(div, true);
  let root: SaxesTagNS | undefined;
  parser.on('opentag', (tag) => {
    root ??= tag;
    fragment.open(tag, parser.position);
  });
  parser.on('closetag', (tag) => fragment.close(tag, parser.position));
  parser.on('text', (text) => fragment.text(text));
  parser.on('cdata', (text) => fragment.text(text));
  parser.on('comment', (text) => fragment.comment(text));
  parser.on('processinginstruction', ({ target, body }) => fragment.processingInstruction(target, body));
  try {
    parser.write(div).close();
  } catch {
    return undefined;
  }
  if (root?.local !== 'div' || root.uri !== XHTML_NAMESPACE) return undefined;
  return fragment.toString();
}
