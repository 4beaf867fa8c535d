/**
 * The items of an HTTP list header with weights (Accept-Encoding, Accept-Language: RFC 9110
 * 12.4.2): each item's name, trimmed, and its `q` (1 when not given). At most `maxItems` items are
 * read, so a header of thousands of commas costs no more than a short one.
 */
export interface WeightedItem {
  name: string;
  q: number;
}

const WEIGHT = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i;

export function weightedItems(header: string | string[] | undefined, maxItems = 50): WeightedItem[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(',') : header;
  return text.split(',', maxItems).map((item) => {
    const [name, ...params] = item.split(';');
    const weight = params.map((p) => WEIGHT.exec(p)?.[1]).find((q) => q !== undefined);
    return { name: name!.trim(), q: weight === undefined ? 1 : Number(weight) };
  });
}
