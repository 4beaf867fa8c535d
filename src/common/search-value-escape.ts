/**
 * A value as a FHIR search parameter takes it: its `\`, `,`, `|` and `$` escaped
 * (search.html#escaping), so an identifier holding one of them is searched as it is.
 */
export const escapeSearchValue = (value: string): string => value.replace(/[\\,|$]/g, '\\$&');
