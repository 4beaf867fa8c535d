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
    const given = params.find((p) => /^\s*q\s*=/i.test(p));
    if (given === undefined) return { name: name!.trim(), q: 1 };
    // A weight that is not one (q=1.5, q=-1, q=abc) takes nothing: RFC 9110 12.4.2 allows 0 to 1, three decimals.
    const weight = WEIGHT.exec(given)?.[1];
    const q = weight === undefined ? 0 : Number(weight);
    return { name: name!.trim(), q: q >= 0 && q <= 1 ? q : 0 };
  });
}
