/**
 * Which of several versions of a code system or value set is the latest, when a call names none.
 * FHIR R4 says "the latest version" without an algorithm (R5 adds versionAlgorithm, semver by
 * default): versions are compared part by part, numbers as numbers (1.10.0 after 1.9.2), other
 * parts as text; the one stored last only breaks ties. An empty version is the oldest.
 */
const parts = (version: string): string[] => version.split(/[.\-+_]/);

/** Negative when a is older than b, positive when newer, 0 when they compare equal. */
export function compareVersions(a: string, b: string): number {
  if (a === b) return 0;
  if (!a || !b) return a ? 1 : -1;
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined || y === undefined) {
      // 1.0 before 1.0.1, but a label after the shared parts is a pre-release: 1.0.0-beta before 1.0.0.
      const extra = (x ?? y)!;
      const longerIsNewer = /^\d+$/.test(extra);
      return (x === undefined) === longerIsNewer ? -1 : 1;
    }
    const nx = /^\d+$/.test(x) ? Number(x) : undefined;
    const ny = /^\d+$/.test(y) ? Number(y) : undefined;
    if (nx !== undefined && ny !== undefined) {
      if (nx !== ny) return nx - ny;
    } else if (nx !== undefined || ny !== undefined) {
      return nx !== undefined ? 1 : -1; // a number part is later than a label (1.0.0 after 1.0.0-beta... as semver)
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/** The latest of several (by version, then by their order: earlier in the list wins a tie). */
export function latestVersion<T>(items: readonly T[], versionOf: (item: T) => string | undefined): T | undefined {
  let best: T | undefined;
  for (const item of items) {
    if (best === undefined || compareVersions(versionOf(item) ?? '', versionOf(best) ?? '') > 0) best = item;
  }
  return best;
}
