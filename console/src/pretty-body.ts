/** Bodies as people read them (the transaction page, the registry browsers). */

/**
 * A body as people read it: JSON indented, XML broken by element, anything else as sent. JSON is
 * re-indented token by token, not parsed and written again: JSON.parse rounds what a double
 * cannot hold (12345678901234567890) and drops a decimal's trailing zeros (FHIR's 1.50), so the
 * page showed values other than those sent.
 */
export function prettyBody(body: string | undefined): string {
  if (!body) return '';
  const text = body.trim();
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      JSON.parse(text);
    } catch {
      return body;
    }
    return indentJson(text);
  }
  if (text.startsWith('<')) return text.replace(/>\s*</g, '>\n<');
  return body;
}

/** Valid JSON laid out as JSON.stringify(value, null, 2) lays it out, with its tokens as written. */
function indentJson(json: string): string {
  let out = '';
  let depth = 0;
  const newline = (): string => `\n${'  '.repeat(depth)}`;
  for (let i = 0; i < json.length; i++) {
    const char = json[i]!;
    if (char === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      out += json.slice(i, end + 1);
      i = end;
    } else if (char === '{' || char === '[') {
      const close = char === '{' ? '}' : ']';
      let next = i + 1;
      while (/\s/.test(json[next]!)) next++;
      if (json[next] === close) {
        out += char + close;
        i = next;
      } else {
        depth++;
        out += char + newline();
      }
    } else if (char === '}' || char === ']') {
      depth--;
      out += newline() + char;
    } else if (char === ',') {
      out += `,${newline()}`;
    } else if (char === ':') {
      out += ': ';
    } else if (!/\s/.test(char)) {
      out += char;
    }
  }
  return out;
}
