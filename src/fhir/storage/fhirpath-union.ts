/**
 * FHIRPath `a | b` without its duplicate removal, for the indexer. @medplum/core removes
 * duplicates from a union by comparing every pair of items deeply, which is quadratic: an
 * Observation with 9,000 components took 20 s to index (`combo-code` is `Observation.code |
 * Observation.component.code`). Index rows are deduplicated afterwards, so the indexer evaluates
 * each branch of a top-level union on its own and concatenates the results.
 */
import { FhirPathAtom, UnionAtom, evalFhirPathTyped, parseFhirPath, type Atom, type TypedValue } from '@medplum/core';

const branchesOf = new WeakMap<FhirPathAtom, FhirPathAtom[]>();
const parsed = new Map<string, FhirPathAtom>();

/** The branches of a top-level union (nested unions flattened), each as an expression of its own. */
export function unionBranches(expression: FhirPathAtom): FhirPathAtom[] {
  const known = branchesOf.get(expression);
  if (known) return known;
  const atoms: Atom[] = [];
  const pending: Atom[] = [expression.child];
  while (pending.length) {
    const atom = pending.pop()!;
    if (atom instanceof UnionAtom) pending.push(atom.right, atom.left);
    else atoms.push(atom);
  }
  const branches = atoms.length === 1 ? [expression] : atoms.map((atom) => new FhirPathAtom(expression.original, atom));
  branchesOf.set(expression, branches);
  return branches;
}

/** evalFhirPathTyped over each branch of a top-level union, results concatenated (duplicates kept). */
export function evalUnionTyped(expression: string | FhirPathAtom, input: TypedValue[], variables?: Record<string, TypedValue>): TypedValue[] {
  const atom = typeof expression === 'string' ? parsedExpression(expression) : expression;
  const branches = unionBranches(atom);
  if (branches.length === 1) return evalFhirPathTyped(atom, input, variables);
  const out: TypedValue[] = [];
  for (const branch of branches) {
    for (const value of evalFhirPathTyped(branch, input, variables)) out.push(value);
  }
  return out;
}

function parsedExpression(expression: string): FhirPathAtom {
  let atom = parsed.get(expression);
  if (!atom) parsed.set(expression, (atom = parseFhirPath(expression)));
  return atom;
}
