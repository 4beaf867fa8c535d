/**
 * Looking up a JSON member name among a type's elements (@medplum/core's `InternalTypeSchema`).
 * The elements are kept in a plain object, so a name from a request (`constructor`, `toString`,
 * or `_constructor` once a primitive's underscore is taken off) would find Object.prototype's
 * members: every lookup of a caller's name goes through `ownElement`.
 */
import type { InternalSchemaElement, InternalTypeSchema } from '@medplum/core';

/** The element named `key` of the type, never an inherited member. */
export function ownElement(schema: InternalTypeSchema, key: string): InternalSchemaElement | undefined {
  return Object.hasOwn(schema.elements, key) ? schema.elements[key] : undefined;
}

/** The type of a property: its element's single type, or for a choice (value[x]) the type its name ends with. */
export function elementType(schema: InternalTypeSchema, key: string): string | undefined {
  const element = ownElement(schema, key);
  if (element) return element.type.length === 1 ? element.type[0]!.code : undefined;
  return choiceType(schema, key);
}

/** For a choice element's member (`valueQuantity` of `value[x]`), the type its name ends with. */
export function choiceType(schema: InternalTypeSchema, key: string): string | undefined {
  for (const [name, choice] of Object.entries(schema.elements)) {
    if (!name.endsWith('[x]')) continue;
    const base = name.slice(0, -3);
    if (!key.startsWith(base)) continue;
    const suffix = key.slice(base.length);
    const match = choice.type.find((t) => t.code.charAt(0).toUpperCase() + t.code.slice(1) === suffix);
    if (match) return match.code;
  }
  return undefined;
}
