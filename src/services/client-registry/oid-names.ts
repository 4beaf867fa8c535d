/**
 * An OID named as a URN: `urn:oid:1.2.3`. The URN scheme `urn:` and the namespace `oid:` are
 * case-insensitive (RFC 8141, RFC 3061), so `URN:OID:1.2.3` is the same OID; a bare `1.2.3` names
 * it too. The registry compares OIDs in one form, `urn:oid:<oid>` with the prefix in lower case,
 * so no spelling of the prefix names a second domain (or slips past the one-claim-per-OID rule).
 */
export const URN_OID_PREFIX = /^urn:oid:/i;
const BARE_OID = /^[0-2](\.\d+)+$/;

/** `urn:oid:<oid>` for a name that spells an OID (any case of the prefix, or bare), else undefined. */
export function oidUrn(name: string): string | undefined {
  if (URN_OID_PREFIX.test(name)) return `urn:oid:${name.slice(8)}`;
  return BARE_OID.test(name) ? `urn:oid:${name}` : undefined;
}

/** The OID without its `urn:oid:` prefix (in any case). */
export function bareOid(name: string): string {
  return name.replace(URN_OID_PREFIX, '');
}
